using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// REVIEW (rev branch): the <c>dashboard</c> process's one database endpoint, <c>GET /dashboard/api/statistics</c>,
/// after PostgreSQL restarts while the process keeps running. Like the API's endpoints, it must never answer a client
/// with a 500 because a pooled connection went stale (nor a 500 while the database is down: that is a 503).
/// </summary>
[Collection(nameof(PrivatePostgresTests))]
public sealed class DashboardDatabaseOutageTests() : PrivatePostgresService("dashboard", "svc_dash_")
{
    private const int Parallel = 8;

    [Fact]
    public async Task Dashboard_PostgresRestarted_StatisticsNeverAnswer500()
    {
        var before = await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ => StatusAsync()));
        Assert.True(before.All(s => s == 200), $"before: {string.Join(", ", before)}\n{Process.Output}");

        await Postgres.StopAsync();
        await Postgres.StartAsync();

        var after = await Task.WhenAll(Enumerable.Range(0, Parallel * 2).Select(_ => StatusAsync()));
        Assert.True(after.All(s => s == 200), $"after the restart: {string.Join(", ", after)}\n{Process.Output}");
    }

    private async Task<int> StatusAsync()
    {
        using var response = await Client.GetAsync("/dashboard/api/statistics");
        return (int)response.StatusCode;
    }
}
