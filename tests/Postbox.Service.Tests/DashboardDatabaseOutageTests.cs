using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// REVIEW (rev branch): the <c>dashboard</c> process's overview endpoint, <c>GET /dashboard/api/overview</c> (with the dashboard's credentials),
/// after PostgreSQL restarts while the process keeps running. Like the API's endpoints, it must never answer a client
/// with a 500 because a pooled connection went stale (nor a 500 while the database is down: that is a 503).
/// </summary>
[Collection(nameof(PrivatePostgresTests))]
public sealed partial class DashboardDatabaseOutageTests() : PrivatePostgresService("dashboard", "svc_dash_")
{
    private const int Parallel = 8;

    [Fact]
    public async Task Dashboard_PostgresRestarted_StatisticsNeverAnswer500()
    {
        await Process.WaitForLineAsync("user admin, password", TimeSpan.FromSeconds(10)); // the banner's credentials line
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
        // The password is generated at start and printed in the banner (a password on the command line is refused).
        var password = GeneratedPassword().Match(Process.Output).Groups[1].Value;
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("admin:" + password)));
        using var response = await Client.SendAsync(request);
        return (int)response.StatusCode;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"user admin, password (\S+) \(generated")]
    private static partial System.Text.RegularExpressions.Regex GeneratedPassword();
}
