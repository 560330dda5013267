using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>SIGTSTP on the all-in-one process (in-memory transport, SQLite): nothing new starts until SIGCONT.</summary>
public sealed class PauseTests : IAsyncLifetime
{
    private readonly string _folder = TestEnvironment.TempFolder("pause");
    private readonly int _port = TestEnvironment.FreePort();
    private ServiceProcess _all = null!;
    private HttpClient _client = null!;

    private string MailFolder => Path.Combine(_folder, "mail");

    public async Task InitializeAsync()
    {
        _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        _all = ServiceProcess.Start("all",
        [
            "--urls", $"http://127.0.0.1:{_port}", "--sqlite", $"Data Source={Path.Combine(_folder, "service.db")}", "--mail-dir", MailFolder,
            "--Postbox:Relay:PollInterval=00:00:00.200", "--Postbox:Consumers:RetryPollInterval=00:00:00.100",
        ]);
        // The banner comes once Kestrel listens (ApplicationStarted); the consumers may subscribe before that, so waiting
        // for them alone let the first request meet a closed port under load.
        await _all.WaitForLineAsync("Postbox service (all", TimeSpan.FromSeconds(60));
        await _all.WaitForLineAsync("subscribed to customers.created", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _all.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task All_Sigtstp_NothingNewStartsOnAnyTopic_SigcontDeliversEverything()
    {
        // Warm up each topic once, so each consumer has taken a message before the pause (the issue's case: the next
        // message of each topic still went through).
        var first = await SendMailAsync("before the pause");
        await WaitForMailAsync(first, "sent");

        await SignalAsync("TSTP");
        await _all.WaitForLineAsync("Intake paused (SIGTSTP)", TimeSpan.FromSeconds(30));
        var mails = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            mails.Add(await SendMailAsync($"while paused {i}"));
        }

        using var user = await _client.PostAsJsonAsync("/api/v1/users", new { email = "paused@example.com", password = "a-long-enough-password" });
        Assert.Equal(HttpStatusCode.Created, user.StatusCode);
        using var customer = await _client.PostAsJsonAsync("/customers", new { email = "paused-customer@example.com", name = "Paused" });
        Assert.Equal(HttpStatusCode.Created, customer.StatusCode);
        var customerId = (await customer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        // The relay publishes them at once (200 ms polls); give a wrongly running consumer ample time to start one.
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Single(Directory.GetFiles(MailFolder, "*.eml"));
        foreach (var id in mails)
        {
            Assert.Equal("queued", (await GetJsonAsync($"/api/mail/{id}")).GetProperty("status").GetString());
        }

        Assert.Equal(0, (await GetJsonAsync($"/customers/{customerId}")).GetProperty("eventHandledCount").GetInt32());

        await SignalAsync("CONT");
        foreach (var id in mails)
        {
            await WaitForMailAsync(id, "sent");
        }

        await TestEnvironment.WaitUntilAsync(async () => (await GetJsonAsync($"/customers/{customerId}")).GetProperty("eventHandledCount").GetInt32() == 1,
            TimeSpan.FromSeconds(60), "CustomerCreated to be handled after SIGCONT");
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(Directory.GetFiles(MailFolder, "*.eml").Length == 5), TimeSpan.FromSeconds(60),
            "the three mails and the welcome mail");
    }

    private async Task SignalAsync(string signal)
    {
        await PrivatePostgresCluster.RunAsync("kill", $"-{signal}", _all.Id.ToString(CultureInfo.InvariantCulture));
    }

    private async Task<Guid> SendMailAsync(string subject)
    {
        using var response = await _client.PostAsJsonAsync("/api/mail/send", new { from = "from@example.com", to = new[] { "to@example.com" }, subject, content = "x" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await _client.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task WaitForMailAsync(Guid id, string status) =>
        TestEnvironment.WaitUntilAsync(async () => (await GetJsonAsync($"/api/mail/{id}")).GetProperty("status").GetString() == status,
            TimeSpan.FromSeconds(60), $"mail {id} to be {status}. Output:\n{_all.Output}");
}
