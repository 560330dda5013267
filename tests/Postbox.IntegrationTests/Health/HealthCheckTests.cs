using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Postbox.Health;
using Postbox.IntegrationTests.Infrastructure;

namespace Postbox.IntegrationTests.Health;

/// <summary>
/// Each Postbox health check flipped by a real condition on the real servers: the outbox table gone, a lock that
/// stalls the relay's claim, a message older than the threshold. The broker outage is in <see cref="HealthBrokerOutageTests"/>.
/// </summary>
public sealed class HealthCheckTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StoreCheck_WhenTheOutboxTableIsGone_IsUnhealthy_AndHealthyOnceItIsBack()
    {
        using var host = Build(relay: false);
        await host.StartAsync();
        await ExpectAsync(host, PostboxHealthChecks.Store, HealthStatus.Healthy);

        await Schema.ExecuteAsync("ALTER TABLE {schema}.outbox RENAME TO outbox_away");
        var failed = await ExpectAsync(host, PostboxHealthChecks.Store, HealthStatus.Unhealthy);
        Assert.Contains("cannot be queried", failed.Description, StringComparison.Ordinal);
        // An expected failure: reported in one line, without an exception (the health-check service would log its stack trace).
        Assert.Null(failed.Exception);

        await Schema.ExecuteAsync("ALTER TABLE {schema}.outbox_away RENAME TO outbox");
        await ExpectAsync(host, PostboxHealthChecks.Store, HealthStatus.Healthy);
        await host.StopAsync();
    }

    [Fact]
    public async Task OldestPendingCheck_WhenAMessageWaitsLongerThanTheThreshold_IsUnhealthy_AndHealthyOnceItIsDelivered()
    {
        // No relay in this process: nothing publishes, as when the transport is down.
        using var host = Build(relay: false, health: o => o.OldestPendingThreshold = TimeSpan.FromMinutes(5));
        await host.StartAsync();
        var empty = await ExpectAsync(host, PostboxHealthChecks.OldestPending, HealthStatus.Healthy);
        Assert.Equal("No message is pending.", empty.Description);

        // Younger than the threshold: still healthy.
        await Schema.EnqueueAsync([PostgresSchema.Message("orders")], DateTimeOffset.UtcNow - TimeSpan.FromMinutes(4));
        await ExpectAsync(host, PostboxHealthChecks.OldestPending, HealthStatus.Healthy);

        // Older than the threshold, and delayed into the future: it counts from its creation.
        var old = new OutboxMessage("orders", "x"u8.ToArray()) { AvailableAt = DateTimeOffset.UtcNow.AddHours(1) };
        await Schema.EnqueueAsync([old], DateTimeOffset.UtcNow - TimeSpan.FromMinutes(6));
        var failed = await ExpectAsync(host, PostboxHealthChecks.OldestPending, HealthStatus.Unhealthy);
        Assert.Contains("longer than", failed.Description, StringComparison.Ordinal);
        Assert.True((double)failed.Data["oldestPendingAgeSeconds"] >= 360);

        // Delivered or dead: no longer pending.
        await Schema.ExecuteAsync($"UPDATE {{schema}}.outbox SET state = 1 WHERE id = '{old.Id}'");
        await ExpectAsync(host, PostboxHealthChecks.OldestPending, HealthStatus.Healthy);
        await host.StopAsync();
    }

    [Fact]
    public async Task RelayCheck_WhenALockStallsTheClaim_IsUnhealthy_AndHealthyOnceTheLockIsReleased()
    {
        using var host = Build(relay: true, health: o =>
        {
            o.RelayStallTimeout = TimeSpan.FromSeconds(1);
            o.Timeout = TimeSpan.FromSeconds(1);
        });
        var check = host.Services.GetRequiredService<HealthCheckService>();
        var before = await check.CheckHealthAsync(r => r.Name == PostboxHealthChecks.Relay);
        Assert.Equal(HealthStatus.Unhealthy, before.Status); // Not started yet.
        Assert.Equal("The relay loop is not running.", before.Entries[PostboxHealthChecks.Relay].Description);

        await host.StartAsync();
        await ExpectAsync(host, PostboxHealthChecks.Relay, HealthStatus.Healthy);
        Assert.Equal(HealthStatus.Healthy, (await Live(host)).Status);

        await using (var connection = await Schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var lockTable = new NpgsqlCommand($"LOCK TABLE \"{Schema.Name}\".outbox IN ACCESS EXCLUSIVE MODE", connection, transaction))
            {
                await lockTable.ExecuteNonQueryAsync();
            }

            var stalled = await ExpectAsync(host, PostboxHealthChecks.Relay, HealthStatus.Unhealthy);
            Assert.Contains("stuck", stalled.Description, StringComparison.Ordinal);
            Assert.Equal(HealthStatus.Unhealthy, (await Live(host)).Status);
            await transaction.RollbackAsync();
        }

        await ExpectAsync(host, PostboxHealthChecks.Relay, HealthStatus.Healthy);
        await host.StopAsync();
        var stopped = await check.CheckHealthAsync(r => r.Name == PostboxHealthChecks.Relay);
        Assert.Equal(HealthStatus.Unhealthy, stopped.Status);
    }

    [Fact]
    public async Task Checks_InAProducerOnlyProcess_AreHealthy_AndOnlyTheRelayCheckIsTaggedLive()
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPostbox(o => o.Relay.Enabled = false).UsePostgreSql(Schema.DataSource, o => o.Schema = Schema.Name).AddHealthChecks();
        using var host = builder.Build();
        await host.StartAsync();
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal([PostboxHealthChecks.OldestPending, PostboxHealthChecks.Relay, PostboxHealthChecks.Store, PostboxHealthChecks.Transport],
            report.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("No transport in this process.", report.Entries[PostboxHealthChecks.Transport].Description);
        Assert.Equal("The relay is disabled in this process.", report.Entries[PostboxHealthChecks.Relay].Description);
        Assert.Equal([PostboxHealthChecks.Relay], (await Live(host)).Entries.Keys);
        await host.StopAsync();
    }

    [Fact]
    public async Task HealthCheckOptions_OutOfRange_FailStartWithTheKey()
    {
        using var host = Build(relay: false, health: o => o.OldestPendingThreshold = TimeSpan.Zero);
        var error = await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Postbox:HealthChecks:OldestPendingThreshold", error.Message, StringComparison.Ordinal);
    }

    private IHost Build(bool relay, Action<PostboxHealthCheckOptions>? health = null) =>
        PostboxHost.Build(Schema, configure: o => o.Relay.Enabled = relay,
            services: s => s.AddHealthChecks().AddPostbox(health));

    internal static Task<HealthReport> Live(IHost host) =>
        host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains(PostboxHealthChecks.LiveTag));

    /// <summary>Runs the check named <paramref name="name"/> until it reports <paramref name="status"/>; returns that entry.</summary>
    internal static async Task<HealthReportEntry> ExpectAsync(IHost host, string name, HealthStatus status)
    {
        var service = host.Services.GetRequiredService<HealthCheckService>();
        using var timeout = new CancellationTokenSource(Wait);
        while (true)
        {
            var entry = (await service.CheckHealthAsync(r => r.Name == name)).Entries[name];
            if (entry.Status == status)
            {
                return entry;
            }

            Assert.False(timeout.IsCancellationRequested, $"Timed out after {Wait} waiting until {name} reports {status} (last: {entry.Status}, {entry.Description}).");
            await Task.Delay(50);
        }
    }
}
