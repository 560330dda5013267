using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postbox.Service.Tests.Infrastructure;
using Postbox.Service.Users;

namespace Postbox.Service.Tests;

/// <summary>The out-of-the-box run (<c>all</c>: SQLite file, in-process transport, .eml sink) hosted in the test process.</summary>
public sealed class SqliteEndToEndTests : IAsyncLifetime
{
    private InProcessService _service = null!;

    public async Task InitializeAsync() => _service = await InProcessService.StartAsync();

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task All_OnSqlite_SendMail_EmlWrittenAndStatusSent()
    {
        using var response = await _service.Client.PostAsJsonAsync("/api/mail/send",
            new { from = "from@example.com", to = new[] { "to@example.com", "\"Other\" <other@example.com>" }, subject = "Test Subject", content = "some content" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        Assert.Equal($"/api/mail/{id}", response.Headers.Location!.OriginalString);

        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/api/mail/{id}")).GetProperty("status").GetString() == "sent",
            TimeSpan.FromSeconds(30), "the delivery to be sent");
        var eml = Assert.Single(Directory.GetFiles(_service.MailFolder, "*.eml"));
        var text = await File.ReadAllTextAsync(eml);
        Assert.Contains($"Message-ID: <mail.{id:N}@postbox.local>", text, StringComparison.Ordinal);
        // Exactly one Message-ID header (MimeKit adds a random "Message-Id" of its own unless it is removed).
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "^Message-ID:", System.Text.RegularExpressions.RegexOptions.Multiline | System.Text.RegularExpressions.RegexOptions.IgnoreCase));
        Assert.Contains("Subject: Test Subject", text, StringComparison.Ordinal);
        Assert.Contains("other@example.com", text, StringComparison.Ordinal);

        var status = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal(1, status.GetProperty("attempts").GetInt32());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("lastError").ValueKind);
        Assert.Empty(status.GetProperty("errors").EnumerateArray());
        Assert.True(status.GetProperty("finishedAt").GetDateTimeOffset() >= status.GetProperty("startedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task All_OnSqlite_RegisterUser_HashStoredDuplicateConflictsWelcomeMailSent()
    {
        const string Password = "correct horse battery staple";
        using var created = await _service.Client.PostAsJsonAsync("/api/v1/users", new { email = "Alice@Example.com", password = Password });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var user = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = user.GetProperty("id").GetGuid();
        Assert.Equal($"/api/v1/users/{id}", created.Headers.Location!.OriginalString);
        Assert.False(user.TryGetProperty("password", out _));
        Assert.False(user.TryGetProperty("passwordHash", out _));

        using var duplicate = await _service.Client.PostAsJsonAsync("/api/v1/users", new { email = "alice@example.com", password = "another password" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal("application/problem+json", duplicate.Content.Headers.ContentType!.MediaType);

        await using (var connection = new SqliteConnection($"Data Source={_service.DatabasePath}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT password_hash FROM users";
            var hash = (string)(await command.ExecuteScalarAsync())!;
            Assert.DoesNotContain(Password, hash, StringComparison.Ordinal);
            Assert.StartsWith("pbkdf2-sha256$600000$", hash, StringComparison.Ordinal);
            Assert.True(PasswordHasher.Verify(Password, hash));
            Assert.False(PasswordHasher.Verify("wrong password", hash));
        }

        Assert.Equal(1, await _service.CountAsync("users"));
        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/api/v1/users/{id}")).GetProperty("welcomeMail").GetString() == "sent",
            TimeSpan.FromSeconds(30), "the welcome mail to be sent");
        var eml = Assert.Single(Directory.GetFiles(_service.MailFolder, "*.eml"));
        Assert.Contains("To: alice@example.com", await File.ReadAllTextAsync(eml), StringComparison.Ordinal);
    }

    [Fact]
    public async Task All_OnSqlite_CreateCustomer_EventHandledOnce()
    {
        using var created = await _service.Client.PostAsJsonAsync("/customers", new { email = "test@example.com", name = "TESTTTTTT" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/customers/{id}")).GetProperty("eventHandledCount").GetInt32() == 1,
            TimeSpan.FromSeconds(30), "CustomerCreated to be handled");

        using var duplicate = await _service.Client.PostAsJsonAsync("/customers", new { email = "TEST@example.com", name = "Again" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal(1, await _service.CountAsync("customers"));
    }

    [Fact]
    public async Task All_OnSqlite_OpenApiDocumentAndApiPage_Served()
    {
        var document = await _service.GetJsonAsync("/openapi/v1.json");
        var paths = document.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/mail/send", out _));
        Assert.True(paths.TryGetProperty("/api/mail/{id}", out _));
        Assert.True(paths.TryGetProperty("/api/v1/users", out _) || paths.TryGetProperty("/api/v1/users/", out _));
        Assert.True(paths.TryGetProperty("/customers", out _) || paths.TryGetProperty("/customers/", out _));
        using var page = await _service.Client.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("swagger", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }
}
