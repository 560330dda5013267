using Postbox.Monitoring;

namespace Postbox.IntegrationTests.Servers;

/// <summary>
/// What every store's <see cref="IServerRegistry"/> must do, run against each store by subclassing: heartbeat rows are
/// written, refreshed and deleted by owner id, go stale when not refreshed, and stats buckets written by several
/// processes add up; old rows are pruned and recent ones kept.
/// </summary>
public abstract class ServerRegistryConformanceTests
{
    /// <summary>A new registry object each call, as a separate process would have (its own connections).</summary>
    protected abstract IServerRegistry NewRegistry();

    // Whole milliseconds: every store keeps at least microseconds.
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 10, 0, 7, 123, TimeSpan.Zero);

    private static ServerHeartbeat Beat(string owner, DateTimeOffset at, ServerRole role = ServerRole.Worker, params ServerHandler[] handlers) =>
        new(owner, role, "host-1", 4242, T0, at, TimeSpan.FromSeconds(10), handlers);

    private static StatsBucket Bucket(DateTimeOffset minute, string name, long handled, long failed = 0, long dead = 0, long sum = 0, long max = 0,
        MessageSide side = MessageSide.Outbox) => new(minute, side, name, handled, failed, dead, sum, max);

    [Fact]
    public async Task Heartbeat_IsWrittenRefreshedAndDeleted_ByOwnerId()
    {
        var registry = NewRegistry();
        await registry.BeatAsync(Beat("w/1/ab", T0, ServerRole.Worker, new ServerHandler("mail.send", "mailer", 8), new ServerHandler("customers", "crm", 1)), [], default);
        await registry.BeatAsync(Beat("r/1/cd", T0, ServerRole.Relay), [], default);

        var servers = await registry.ListServersAsync(default);
        Assert.Equal(["r/1/cd", "w/1/ab"], servers.Select(s => s.OwnerId)); // relays first
        var worker = servers[1];
        Assert.Equal(ServerRole.Worker, worker.Role);
        Assert.Equal(("host-1", 4242), (worker.Host, worker.ProcessId));
        Assert.Equal(T0, worker.StartedAt);
        Assert.Equal(T0, worker.HeartbeatAt);
        Assert.Equal(TimeSpan.FromSeconds(10), worker.HeartbeatInterval);
        Assert.Equal([new ServerHandler("mail.send", "mailer", 8), new ServerHandler("customers", "crm", 1)], worker.Handlers);
        Assert.Empty(servers[0].Handlers);

        // Refresh: the same row, a later heartbeat.
        await NewRegistry().BeatAsync(Beat("w/1/ab", T0.AddSeconds(10), ServerRole.Worker, new ServerHandler("mail.send", "mailer", 8)), [], default);
        servers = await registry.ListServersAsync(default);
        Assert.Equal(2, servers.Count);
        Assert.Equal(T0.AddSeconds(10), servers.Single(s => s.OwnerId == "w/1/ab").HeartbeatAt);
        Assert.Equal(T0, servers.Single(s => s.OwnerId == "w/1/ab").StartedAt);

        // Graceful stop: gone; the other row stays.
        await registry.RemoveAsync("w/1/ab", [], default);
        Assert.Equal(["r/1/cd"], (await registry.ListServersAsync(default)).Select(s => s.OwnerId));
        await registry.RemoveAsync("no-such-owner", [], default);
        Assert.Single(await registry.ListServersAsync(default));
    }

    [Fact]
    public async Task Heartbeat_NotRefreshedForThreeIntervals_IsStale()
    {
        var registry = NewRegistry();
        await registry.BeatAsync(Beat("w", T0), [], default);
        var row = Assert.Single(await registry.ListServersAsync(default));
        Assert.False(row.IsStaleAt(T0.AddSeconds(30)));
        Assert.True(row.IsStaleAt(T0.AddSeconds(30.001)));
        Assert.False(row.IsStaleAt(T0.AddSeconds(-5))); // a reader whose clock is behind the writer's
    }

    [Fact]
    public async Task Stats_WrittenByTwoProcessesAtOnce_AddUp_AndKeepTheLargestMaximum()
    {
        var minute = new DateTimeOffset(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);
        var a = NewRegistry();
        var b = NewRegistry();
        var writes = Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? a : b).BeatAsync(Beat(i % 2 == 0 ? "a" : "b", T0),
            [
                Bucket(minute, "orders", handled: 3, failed: 1, dead: i == 7 ? 1 : 0, sum: 30, max: 10 + i),
                Bucket(minute.AddMinutes(1), "orders", handled: 1),
                Bucket(minute, "mailer", handled: 2, side: MessageSide.Inbox),
            ], default));
        await Task.WhenAll(writes);

        var stats = await a.GetStatsAsync(minute, default);
        Assert.Equal(3, stats.Count);
        var orders = stats.Single(s => s.Minute == minute && s.Side == MessageSide.Outbox);
        Assert.Equal(Bucket(minute, "orders", handled: 60, failed: 20, dead: 1, sum: 600, max: 29), orders);
        Assert.Equal(20, stats.Single(s => s.Minute == minute.AddMinutes(1)).Handled);
        Assert.Equal(40, stats.Single(s => s.Side == MessageSide.Inbox).Handled);
        Assert.Equal("mailer", stats.Single(s => s.Side == MessageSide.Inbox).Name);

        // From a later minute on: the earlier one is left out.
        Assert.Equal([minute.AddMinutes(1)], (await a.GetStatsAsync(minute.AddMinutes(1).AddSeconds(59), default)).Select(s => s.Minute));
    }

    [Fact]
    public async Task Stats_SameBucketTwiceInOneWrite_AreMerged_AndNamesDifferingOnlyInTrailingSpaceStayApart()
    {
        var minute = new DateTimeOffset(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);
        var registry = NewRegistry();
        await registry.BeatAsync(Beat("a", T0), [Bucket(minute, "t", 1, max: 5), Bucket(minute.AddSeconds(30), "t", 2, max: 3), Bucket(minute, "t ", 7)], default);
        var stats = await registry.GetStatsAsync(minute, default);
        Assert.Equal(3, stats.Single(s => s.Name == "t").Handled);
        Assert.Equal(5, stats.Single(s => s.Name == "t").LatencyMaxMs);
        Assert.Equal(7, stats.Single(s => s.Name == "t ").Handled);
    }

    [Fact]
    public async Task Remove_WritesTheLastCounts_WithTheDelete()
    {
        var minute = new DateTimeOffset(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);
        var registry = NewRegistry();
        await registry.BeatAsync(Beat("a", T0), [Bucket(minute, "t", 1)], default);
        await registry.RemoveAsync("a", [Bucket(minute, "t", 4)], default);
        Assert.Empty(await registry.ListServersAsync(default));
        Assert.Equal(5, Assert.Single(await registry.GetStatsAsync(minute, default)).Handled);
    }

    [Fact]
    public async Task Prune_DeletesRowsPastTheirRetention_AndKeepsTheRest()
    {
        var now = new DateTimeOffset(2026, 11, 30, 12, 0, 30, TimeSpan.Zero);
        var registry = NewRegistry();
        await registry.BeatAsync(Beat("gone", now.AddHours(-1).AddSeconds(-1)), [Bucket(now.AddDays(-1).AddMinutes(-1), "old", 1)], default);
        await registry.BeatAsync(Beat("stale-but-kept", now.AddMinutes(-59)), [Bucket(now.AddDays(-1), "kept", 1), Bucket(now, "now", 1)], default);

        var deleted = await registry.PruneAsync(now.AddHours(-1), now.AddDays(-1), default);

        Assert.Equal(2, deleted);
        Assert.Equal(["stale-but-kept"], (await registry.ListServersAsync(default)).Select(s => s.OwnerId));
        Assert.Equal(["kept", "now"], (await registry.GetStatsAsync(now.AddDays(-2), default)).Select(s => s.Name));
    }
}
