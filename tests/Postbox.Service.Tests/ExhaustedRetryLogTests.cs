using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>A mail that runs out of retries is logged once (the runtime's dead letter), not once by the runtime and once by the handler.</summary>
public sealed class ExhaustedRetryLogTests
{
    [Fact]
    public async Task Worker_SmtpUnreachableUntilRetriesRunOut_OneLineForTheLastAttempt()
    {
        // Nothing listens on the port: every attempt fails with a refused connection (transient, retried).
        await using var service = await ServiceOnSqlite.StartAsync(
        [
            "--smtp-host", "127.0.0.1", "--smtp-port", TestEnvironment.FreePort().ToString(CultureInfo.InvariantCulture),
            "--max-attempts", "2", "--retry-delay", "00:00:00.200",
        ]);

        using var response = await service.Client.PostAsJsonAsync("/api/mail/send", new { from = "from@example.com", to = new[] { "to@example.com" }, subject = "s", content = "c" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        JsonElement status = default;
        await TestEnvironment.WaitUntilAsync(async () =>
        {
            status = await service.Client.GetFromJsonAsync<JsonElement>($"/api/mail/{id}");
            return status.GetProperty("status").GetString() == "failed";
        }, TimeSpan.FromSeconds(60), $"mail {id} to fail. Service:\n{service.Process.Output}");
        Assert.Equal(2, status.GetProperty("attempts").GetInt32());
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(service.Process.CountLines("[5003]") > 0), TimeSpan.FromSeconds(30),
            $"the dead letter to be logged. Service:\n{service.Process.Output}");
        await Task.Delay(TimeSpan.FromSeconds(1)); // a second line, were there one, is written by now

        // The retried attempt: one warning (5002). The last attempt: one line, the dead letter (5003), and no
        // "failed for good" warning (7015) from the handler as well.
        Assert.True(service.Process.CountLines("[5002]") == 1, service.Process.Output);
        Assert.True(service.Process.CountLines("[5003]") + service.Process.CountLines("[7015]") == 1, service.Process.Output);
        Assert.False(service.Process.Output.Split('\n').Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)), service.Process.Output);
    }
}
