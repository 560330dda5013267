using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// SMTP through MailKit against a real server that requires authentication (aiosmtpd, <c>smtp/auth_server.py</c>): the
/// configured credentials are used, refused ones fail the mail permanently with the server's answer, and the password
/// never reaches a table, an answer or a log.
/// </summary>
public sealed class SmtpAuthTests : IAsyncLifetime
{
    private const string User = "postbox-sender";
    private const string Password = "pa55-W0rd-only-in-env";
    private readonly SmtpSink _smtp = new(User, Password);

    public Task InitializeAsync() => _smtp.StartAsync();

    public async Task DisposeAsync() => await _smtp.DisposeAsync();

    [Fact]
    public async Task Smtp_RightCredentials_MailDelivered()
    {
        await using var service = await StartAsync(User, Password);

        var id = await SendAsync(service);
        var status = await WaitForFinalAsync(service, id);

        Assert.True(status.GetProperty("status").GetString() == "sent", status.ToString() + "\n" + service.Process.Output + "\n" + _smtp.Output);
        var mail = Assert.Single(_smtp.Mails());
        Assert.Contains($"Message-ID: <mail.{id:N}@postbox.local>", mail, StringComparison.Ordinal);
        // Exactly one Message-ID header (MimeKit adds a random "Message-Id" of its own unless it is removed).
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(mail, "^Message-ID:", System.Text.RegularExpressions.RegexOptions.Multiline | System.Text.RegularExpressions.RegexOptions.IgnoreCase));
        AssertPasswordNowhere(service, status);
    }

    [Theory]
    [InlineData("wrong-password")]
    [InlineData("pa55-W0rd-only-in-en")] // one character short
    public async Task Smtp_WrongCredentials_FailsPermanentlyWithServersAnswer(string password)
    {
        await using var service = await StartAsync(User, password, maxAttempts: 6);

        var id = await SendAsync(service);
        var status = await WaitForFinalAsync(service, id);

        // Permanent: failed on the first attempt although 5 retries were allowed.
        Assert.True(status.GetProperty("status").GetString() == "failed", status.ToString());
        Assert.Equal(1, status.GetProperty("attempts").GetInt32());
        Assert.Contains("535", status.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Empty(_smtp.Mails());
        AssertPasswordNowhere(service, status, password);
    }

    [Fact]
    public async Task Smtp_NoCredentialsConfigured_AuthServerRefuses_FailureRecorded()
    {
        await using var service = await StartAsync(user: null, password: null, maxAttempts: 6);

        var id = await SendAsync(service);
        var status = await WaitForFinalAsync(service, id);

        Assert.True(status.GetProperty("status").GetString() == "failed", status.ToString());
        Assert.Equal(1, status.GetProperty("attempts").GetInt32());
        Assert.Contains("530", status.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Empty(_smtp.Mails());
    }

    [Fact]
    public async Task Smtp_CredentialsOverPlainConnectionNotAllowed_RefusedAtStart()
    {
        await using var service = ServiceOnSqlite.Launch(
            ["--smtp-host", "127.0.0.1", "--smtp-port", _smtp.Port.ToString(CultureInfo.InvariantCulture), "--smtp-user", User],
            new Dictionary<string, string> { ["Mail__Smtp__Password"] = Password });

        var code = await service.Process.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, code);
        Assert.Contains("--smtp-allow-insecure-auth", service.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, service.Process.Output, StringComparison.Ordinal);
    }

    private Task<ServiceOnSqlite> StartAsync(string? user, string? password, int maxAttempts = 1)
    {
        List<string> arguments =
        [
            "--smtp-host", "127.0.0.1", "--smtp-port", _smtp.Port.ToString(CultureInfo.InvariantCulture), "--max-attempts", maxAttempts.ToString(CultureInfo.InvariantCulture),
            "--retry-delay", "00:00:00.200", "--Mail:Smtp:Timeout=00:00:10", "--Logging:LogLevel:Default=Debug",
        ];
        var environment = new Dictionary<string, string>();
        if (user is not null)
        {
            arguments.AddRange(["--smtp-user", user, "--smtp-allow-insecure-auth"]);
            environment["Mail__Smtp__Password"] = password!;
        }

        return ServiceOnSqlite.StartAsync(arguments, environment);
    }

    private static async Task<Guid> SendAsync(ServiceOnSqlite service)
    {
        using var response = await service.Client.PostAsJsonAsync("/api/mail/send", new { from = "from@example.com", to = new[] { "to@example.com" }, subject = "auth", content = "hello" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static async Task<JsonElement> WaitForFinalAsync(ServiceOnSqlite service, Guid id)
    {
        JsonElement status = default;
        await TestEnvironment.WaitUntilAsync(async () =>
        {
            status = await service.Client.GetFromJsonAsync<JsonElement>($"/api/mail/{id}");
            return status.GetProperty("status").GetString() is "sent" or "failed";
        }, TimeSpan.FromSeconds(60), $"mail {id} to be sent or failed. Service:\n{service.Process.Output}");
        return status;
    }

    /// <summary>Not in the API's answer, the console (at Debug level), or anywhere in the SQLite file (every table, the outbox).</summary>
    private static void AssertPasswordNowhere(ServiceOnSqlite service, JsonElement status, string password = Password)
    {
        Assert.DoesNotContain(password, status.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(password, service.Process.Output, StringComparison.Ordinal);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(service.Folder, "service.db*"))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            Assert.True(memory.ToArray().AsSpan().IndexOf(Encoding.UTF8.GetBytes(password)) < 0, $"the password is in {file}");
        }
    }
}
