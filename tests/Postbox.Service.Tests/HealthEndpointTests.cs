using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// The service's <c>/health/live</c>, <c>/health/ready</c> and <c>/health</c> (the ready report), on the out-of-the-box
/// run (SQLite, in-process transport), with the store taken away and given back under the running service.
/// </summary>
public sealed class HealthEndpointTests : IAsyncLifetime
{
    private InProcessService _service = null!;

    public async Task InitializeAsync() => _service = await InProcessService.StartAsync(new Dictionary<string, string?>
    {
        ["Postbox:HealthChecks:Timeout"] = "00:00:02",
    });

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task HealthEndpoints_ListThePostboxChecks_LiveOnlyTheRelay()
    {
        var ready = await GetAsync("/health/ready", HttpStatusCode.OK);
        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.Equal(["postbox-oldest-pending", "postbox-relay", "postbox-store", "postbox-transport"],
            ready.GetProperty("checks").EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        var live = await GetAsync("/health/live", HttpStatusCode.OK);
        Assert.Equal(["postbox-relay"], live.GetProperty("checks").EnumerateObject().Select(c => c.Name));
        var health = await GetAsync("/health", HttpStatusCode.OK);
        Assert.Equal(4, health.GetProperty("checks").EnumerateObject().Count());
    }

    [Fact]
    public async Task Ready_WhenTheOutboxTableIsGone_Answers503NamingTheStore_WhileLiveStaysOk_AndRecovers()
    {
        await GetAsync("/health/ready", HttpStatusCode.OK);
        await SqlAsync("ALTER TABLE postbox_outbox RENAME TO postbox_outbox_away");
        try
        {
            await TestEnvironment.WaitUntilAsync(async () => (await StatusAsync("/health/ready")) == HttpStatusCode.ServiceUnavailable,
                TimeSpan.FromSeconds(30), "/health/ready answers 503");
            var ready = await GetAsync("/health/ready", HttpStatusCode.ServiceUnavailable);
            var store = ready.GetProperty("checks").GetProperty("postbox-store");
            Assert.Equal("Unhealthy", store.GetProperty("status").GetString());
            Assert.Contains("cannot be queried", store.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await StatusAsync("/health"));
        }
        finally
        {
            await SqlAsync("ALTER TABLE postbox_outbox_away RENAME TO postbox_outbox");
        }

        await TestEnvironment.WaitUntilAsync(async () => (await StatusAsync("/health/ready")) == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), "/health/ready answers 200 again");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/health/live"));
    }

    private async Task<JsonElement> GetAsync(string path, HttpStatusCode expected)
    {
        using var response = await _service.Client.GetAsync(path);
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<HttpStatusCode> StatusAsync(string path)
    {
        using var response = await _service.Client.GetAsync(path);
        return response.StatusCode;
    }

    private async Task SqlAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={_service.DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
