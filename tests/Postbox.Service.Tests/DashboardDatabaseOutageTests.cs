using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// REVIEW (rev branch): the <c>dashboard</c> process's overview endpoint, <c>GET /dashboard/api/overview</c> (with the dashboard's credentials),
/// after PostgreSQL restarts while the process keeps running. Like the API's endpoints, it must never answer a client
/// with a 500 because a pooled connection went stale (nor a 500 while the database is down: that is a 503).
/// </summary>
[Collection(nameof(PrivatePostgresTests))]
public sealed class DashboardDatabaseOutageTests() : PrivatePostgresService("dashboard", "svc_dash_", "--Dashboard:Password=outage-test-password")
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
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/api/overview");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("admin:outage-test-password"u8.ToArray()));
        using var response = await Client.SendAsync(request);
        return (int)response.StatusCode;
    }
}
