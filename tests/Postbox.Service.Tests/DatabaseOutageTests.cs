using System.Globalization;
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
public sealed class DatabaseOutageTests : IAsyncLifetime
{
    private const int Parallel = 12;
    private readonly PrivatePostgres _postgres = new();
    private readonly string _schema = "svc_outage_" + Guid.NewGuid().ToString("N")[..10];
    private readonly int _port = TestEnvironment.FreePort();
    private ServiceProcess _api = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        await _postgres.EnsureRunningAsync();
        var postgres = _postgres.ConnectionString;
        await using (var migrate = ServiceProcess.Start("migrate", ["--postgres", postgres, "--schema", _schema, "--transport", "rabbitmq"]))
        {
            var code = await migrate.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 0, $"migrate failed ({code}):\n{migrate.Output}");
        }

        _api = ServiceProcess.Start("api",
        [
            "--postgres", postgres, "--schema", _schema, "--rabbitmq", TestEnvironment.RabbitMQUri, "--no-migrate",
            "--urls", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{_port}"), "--Api:DatabaseRetryAfter=00:00:07",
        ]);
        _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        await _api.WaitForLineAsync("Postbox service (api", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _api.DisposeAsync();
        // Stopped when done, as the machine's rules ask; the next test starts it again.
        await _postgres.StopAsync();
    }

    [Fact]
    public async Task Api_PostgresRestarted_StalePooledConnectionsNeverReachAClient()
    {
        await FillPoolAsync();

        await _postgres.StopAsync();
        await _postgres.StartAsync();

        // Every pooled connection is now dead; each of these requests would meet one.
        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"after the restart: {string.Join(", ", statuses)}\n{_api.Output}");
        AssertNoErrorLogged();
    }

    [Fact]
    public async Task Api_SessionsTerminatedByOperator_NextRequestsSucceed()
    {
        await FillPoolAsync();
        Assert.True(await _postgres.TerminateClientsAsync() > 0, "no pooled session to terminate");

        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"after pg_terminate_backend: {string.Join(", ", statuses)}\n{_api.Output}");
        AssertNoErrorLogged();
    }

    [Fact]
    public async Task Api_PostgresDown_503WithRetryAfterOneLogLine_BackUp_2xxAtOnce()
    {
        await FillPoolAsync();
        await _postgres.StopAsync();

        for (var i = 0; i < 30; i++)
        {
            using var response = await SendAsync(i);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"request {i} while down: {(int)response.StatusCode} {body}\n{_api.Output}");
            Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(503, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
        }

        // Validation still answers while the database is down: it needs no database.
        using (var invalid = await _client.PostAsJsonAsync("/api/mail/send", new { from = "x" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        }

        Assert.Equal(1, _api.CountLines("Database unreachable"));
        AssertNoErrorLogged();

        await _postgres.StartAsync();
        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"after the database came back: {string.Join(", ", statuses)}\n{_api.Output}");
        Assert.Equal(1, _api.CountLines("Database reachable again"));
        Assert.Equal(1, _api.CountLines("Database unreachable"));
        AssertNoErrorLogged();
    }

    /// <summary>Concurrent requests, so the pool holds several connections (all of which a restart leaves stale).</summary>
    private async Task FillPoolAsync()
    {
        var statuses = await Task.WhenAll(Enumerable.Range(0, Parallel).Select(i => RequestAsync(i)));
        Assert.True(statuses.All(Answered), $"before: {string.Join(", ", statuses)}\n{_api.Output}");
    }

    private async Task<int> RequestAsync(int i)
    {
        using var response = await SendAsync(i);
        return (int)response.StatusCode;
    }

    /// <summary>Writes and reads on every feature: mail, users, customers.</summary>
    private Task<HttpResponseMessage> SendAsync(int i) => (i % 4) switch
    {
        0 => _client.PostAsJsonAsync("/api/mail/send", new { from = "from@example.com", to = new[] { "to@example.com" }, subject = "s", content = "c" }),
        1 => _client.PostAsJsonAsync("/customers", new { email = $"c{Guid.NewGuid():N}@example.com", name = "n" }),
        2 => _client.PostAsJsonAsync("/api/v1/users", new { email = $"u{Guid.NewGuid():N}@example.com", password = "long enough password" }),
        _ => _client.GetAsync($"/api/mail/{Guid.NewGuid()}"), // 404 from the database
    };

    /// <summary>2xx, or the 404 of a lookup the database answered.</summary>
    private static bool Answered(int status) => status is (>= 200 and < 300) or 404;

    private void AssertNoErrorLogged()
    {
        var lines = _api.Output.Split('\n');
        Assert.True(!lines.Any(l => l.Contains("fail:", StringComparison.Ordinal) || l.Contains("crit:", StringComparison.Ordinal)), "error-level log lines:\n" + _api.Output);
    }
}

/// <summary>The tests that stop the private cluster run one at a time.</summary>
[CollectionDefinition(nameof(PrivatePostgresTests), DisableParallelization = true)]
public sealed class PrivatePostgresTests;
