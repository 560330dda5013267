using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// The <c>api</c> process on a private PostgreSQL cluster that the test stops and starts (never the shared one): while
/// the database is down every request gets <c>503</c> with <c>Retry-After</c> and the outage is logged once; once it is
/// back, stale pooled connections never reach a client.
/// </summary>
[Collection(nameof(PrivatePostgresTests))]
public sealed class DatabaseOutageTests() : PrivatePostgresService("api", "svc_outage_", "--Api:DatabaseRetryAfter=00:00:07")
{
    private const int Parallel = 12;

    [Fact]
    public async Task Api_PostgresRestarted_StalePooledConnectionsNeverReachAClient()
    {
        await FillPoolAsync();

        await Postgres.StopAsync();
        await Postgres.StartAsync();

        // Every pooled connection is now dead; each of these requests would meet one.
        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"after the restart: {string.Join(", ", statuses)}\n{Process.Output}");
        AssertNoErrorLogged();
    }

    [Fact]
    public async Task Api_SessionsTerminatedByOperator_NextRequestsSucceed()
    {
        await FillPoolAsync();
        Assert.True(await Postgres.TerminateClientsAsync() > 0, "no pooled session to terminate");

        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"after pg_terminate_backend: {string.Join(", ", statuses)}\n{Process.Output}");
        AssertNoErrorLogged();
    }

    [Fact]
    public async Task Api_PostgresDown_503WithRetryAfterOneLogLine_BackUp_2xxAtOnce()
    {
        await FillPoolAsync();
        await Postgres.StopAsync();

        for (var i = 0; i < 30; i++)
        {
            using var response = await SendAsync(i);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"request {i} while down: {(int)response.StatusCode} {body}\n{Process.Output}");
            Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(503, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
        }

        // Validation still answers while the database is down: it needs no database.
        using (var invalid = await Client.PostAsJsonAsync("/api/mail/send", new { from = "x" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        }

        Assert.Equal(1, Process.CountLines("Database unreachable"));
        AssertNoErrorLogged();

        await Postgres.StartAsync();
        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"after the database came back: {string.Join(", ", statuses)}\n{Process.Output}");
        Assert.Equal(1, Process.CountLines("Database reachable again"));
        Assert.Equal(1, Process.CountLines("Database unreachable"));
        AssertNoErrorLogged();
    }

    /// <summary>Concurrent requests, so the pool holds several connections (all of which a restart leaves stale).</summary>
    private async Task FillPoolAsync()
    {
        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"before: {string.Join(", ", statuses)}\n{Process.Output}");
    }

    private async Task<int> RequestAsync(int i)
    {
        using var response = await SendAsync(i);
        return (int)response.StatusCode;
    }

    /// <summary>Writes and reads on every feature: mail, users, customers.</summary>
    private Task<HttpResponseMessage> SendAsync(int i) => (i % 4) switch
    {
        0 => Client.PostAsJsonAsync("/api/mail/send", new { from = "from@example.com", to = new[] { "to@example.com" }, subject = "s", content = "c" }),
        1 => Client.PostAsJsonAsync("/customers", new { email = $"c{Guid.NewGuid():N}@example.com", name = "n" }),
        2 => Client.PostAsJsonAsync("/api/v1/users", new { email = $"u{Guid.NewGuid():N}@example.com", password = "long enough password" }),
        _ => Client.GetAsync($"/api/mail/{Guid.NewGuid()}"), // 404 from the database
    };

    /// <summary>2xx, or the 404 of a lookup the database answered.</summary>
    private static bool Answered(int status) => status is (>= 200 and < 300) or 404;

    private void AssertNoErrorLogged()
    {
        var lines = Process.Output.Split('\n');
        Assert.True(!lines.Any(l => l.Contains("fail:", StringComparison.Ordinal) || l.Contains("crit:", StringComparison.Ordinal)), "error-level log lines:\n" + Process.Output);
    }
}

/// <summary>The tests that stop the private cluster run one at a time.</summary>
[CollectionDefinition(nameof(PrivatePostgresTests), DisableParallelization = true)]
public sealed class PrivatePostgresTests;
