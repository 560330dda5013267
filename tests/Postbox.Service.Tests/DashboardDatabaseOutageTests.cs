using System.Globalization;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// REVIEW (rev branch): the <c>dashboard</c> process's one database endpoint, <c>GET /dashboard/api/statistics</c>,
/// after PostgreSQL restarts while the process keeps running. Like the API's endpoints, it must never answer a client
/// with a 500 because a pooled connection went stale (nor a 500 while the database is down: that is a 503).
/// </summary>
[Collection(nameof(PrivatePostgresTests))]
public sealed class DashboardDatabaseOutageTests : IAsyncLifetime
{
    private const int Parallel = 8;
    private readonly PrivatePostgres _postgres = new();
    private readonly string _schema = "svc_dash_" + Guid.NewGuid().ToString("N")[..10];
    private readonly int _port = TestEnvironment.FreePort();
    private ServiceProcess _dashboard = null!;
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

        _dashboard = ServiceProcess.Start("dashboard",
        [
            "--postgres", postgres, "--schema", _schema, "--rabbitmq", TestEnvironment.RabbitMQUri, "--no-migrate",
            "--urls", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{_port}"),
        ]);
        _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        await _dashboard.WaitForLineAsync("Postbox service (", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _dashboard.DisposeAsync();
        await _postgres.StopAsync();
    }

    [Fact]
    public async Task Dashboard_PostgresRestarted_StatisticsNeverAnswer500()
    {
        var before = await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ => StatusAsync()));
        Assert.True(before.All(s => s == 200), $"before: {string.Join(", ", before)}\n{_dashboard.Output}");

        await _postgres.StopAsync();
        await _postgres.StartAsync();

        var after = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(_ => StatusAsync()));
        Assert.True(after.All(s => s == 200), $"after the restart: {string.Join(", ", after)}\n{_dashboard.Output}");
    }

    private async Task<int> StatusAsync()
    {
        using var response = await _client.GetAsync("/dashboard/api/statistics");
        return (int)response.StatusCode;
    }
}
