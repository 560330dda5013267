using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Postbox.Monitoring;
using Postbox.Servers;

namespace Postbox.Tests.Servers;

/// <summary>The heartbeat's logic with a moving clock and a store that fails on demand (the SQL is tested per store).</summary>
public sealed class HeartbeatWriterTests
{
    private static readonly DateTimeOffset JustBeforeTen = new(2026, 11, 30, 9, 59, 59, 900, TimeSpan.Zero);

    [Fact]
    public void Counters_ClockCrossesAMinuteBoundary_EachEventCountsInItsOwnMinute()
    {
        var clock = new FakeTimeProvider(JustBeforeTen);
        var counters = new ActivityCounters(MessageSide.Outbox, clock);
        counters.Handled("orders", TimeSpan.FromMilliseconds(40));
        counters.Handled("orders", TimeSpan.FromMilliseconds(60));
        clock.Advance(TimeSpan.FromMilliseconds(100)); // 10:00:00.000 exactly: the next minute
        counters.Handled("orders", TimeSpan.FromMilliseconds(7));
        counters.Failed("orders", dead: true);
        counters.Failed("mail", dead: false);

        var buckets = counters.Take().OrderBy(b => b.Minute).ThenBy(b => b.Name, StringComparer.Ordinal).ToList();

        var nine59 = new DateTimeOffset(2026, 11, 30, 9, 59, 0, TimeSpan.Zero);
        var ten = nine59.AddMinutes(1);
        Assert.Equal(
            [
                new StatsBucket(nine59, MessageSide.Outbox, "orders", 2, 0, 0, 100, 60),
                new StatsBucket(ten, MessageSide.Outbox, "mail", 0, 1, 0, 0, 0),
                new StatsBucket(ten, MessageSide.Outbox, "orders", 1, 1, 1, 7, 7),
            ], buckets);
        Assert.Empty(counters.Take()); // taken once
    }

    [Fact]
    public void Counters_ClockMovedBack_CountsGoToTheEarlierMinute_AndNegativeLatencyCountsAsZero()
    {
        // FakeTimeProvider refuses to go back; a wall clock does it when NTP steps it.
        var clock = new SteppedClock { Now = JustBeforeTen.AddSeconds(30) };
        var counters = new ActivityCounters(MessageSide.Inbox, clock);
        counters.Handled("c", TimeSpan.FromMilliseconds(5));
        clock.Now = JustBeforeTen.AddMinutes(-2);
        counters.Handled("c", TimeSpan.FromMilliseconds(-3));

        var buckets = counters.Take().OrderBy(b => b.Minute).ToList();
        Assert.Equal([new DateTimeOffset(2026, 11, 30, 9, 57, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 30, 10, 0, 0, TimeSpan.Zero)], buckets.Select(b => b.Minute));
        Assert.Equal((1, 0L, 0L), (buckets[0].Handled, buckets[0].LatencySumMs, buckets[0].LatencyMaxMs));
        Assert.All(buckets, b => Assert.Equal(MessageSide.Inbox, b.Side));
    }

    [Fact]
    public async Task Writer_WhenTheStoreIsDown_LogsOneLinePerFailedBeat_KeepsTheCounts_AndWritesThemOnceBack()
    {
        var clock = new FakeTimeProvider(JustBeforeTen);
        var counters = new ActivityCounters(MessageSide.Outbox, clock);
        var registry = new FakeRegistry { FailuresLeft = 3 };
        var logger = new ListLogger();
        var writer = new HeartbeatWriter(registry, "relay-1", ServerRole.Relay, TimeSpan.FromSeconds(10), [], counters, clock, logger);

        for (var i = 0; i < 3; i++)
        {
            counters.Handled("orders", TimeSpan.FromMilliseconds(10));
            await writer.BeatOnceAsync(default);
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal([1200, 1200, 1200], logger.Entries.Select(e => e.EventId));
        Assert.All(logger.Entries, e => Assert.False(e.HasException)); // an outage: one line, no stack trace
        Assert.Contains("TimeoutException: database unreachable", logger.Entries.First().Text, StringComparison.Ordinal);
        Assert.Equal(0, registry.Prunes); // nothing else is tried while the store is down

        counters.Handled("orders", TimeSpan.FromMilliseconds(10));
        await writer.BeatOnceAsync(default);

        Assert.Equal(1201, logger.Entries.Last().EventId);
        var written = registry.Beats.Single();
        Assert.Equal(4, written.Stats.Sum(b => b.Handled)); // the three kept through the outage and the new one
        Assert.Equal(clock.GetUtcNow(), written.Heartbeat.HeartbeatAt);
        Assert.Equal(JustBeforeTen, written.Heartbeat.StartedAt);
        Assert.Equal(1, registry.Prunes);
    }

    [Fact]
    public async Task Writer_PrunesAtMostEveryTenMinutes_WithTheRetentions()
    {
        var clock = new FakeTimeProvider(JustBeforeTen);
        var registry = new FakeRegistry();
        var writer = new HeartbeatWriter(registry, "w", ServerRole.Worker, TimeSpan.FromSeconds(10), [new ServerHandler("t", "c", 2)], null, clock, new ListLogger());
        for (var i = 0; i < 61; i++)
        {
            await writer.BeatOnceAsync(default);
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(61, registry.Beats.Count);
        Assert.Equal(2, registry.Prunes); // at 0 s and 600 s
        Assert.Equal((JustBeforeTen.AddHours(-1), JustBeforeTen.AddDays(-1)), registry.FirstPrune);
        Assert.All(registry.Beats, b => Assert.Equal([new ServerHandler("t", "c", 2)], b.Heartbeat.Handlers));
    }

    [Fact]
    public async Task Writer_Remove_DeletesTheRowWithTheLastCounts_AndAFailureIsOneLine()
    {
        var clock = new FakeTimeProvider(JustBeforeTen);
        var counters = new ActivityCounters(MessageSide.Inbox, clock);
        var registry = new FakeRegistry();
        var logger = new ListLogger();
        var writer = new HeartbeatWriter(registry, "w", ServerRole.Worker, TimeSpan.FromSeconds(10), [], counters, clock, logger);
        counters.Failed("c", dead: true);
        await writer.RemoveAsync();
        Assert.Equal(("w", 1L), (registry.Removed.Single().Owner, registry.Removed.Single().Stats.Sum(b => b.Dead)));

        registry.FailuresLeft = 1;
        await writer.RemoveAsync();
        Assert.Equal(1202, Assert.Single(logger.Entries).EventId);
    }

    private sealed class SteppedClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed class FakeRegistry : IServerRegistry
    {
        public int FailuresLeft { get; set; }

        public List<(ServerHeartbeat Heartbeat, IReadOnlyCollection<StatsBucket> Stats)> Beats { get; } = [];

        public List<(string Owner, IReadOnlyCollection<StatsBucket> Stats)> Removed { get; } = [];

        public int Prunes { get; private set; }

        public (DateTimeOffset Servers, DateTimeOffset Stats) FirstPrune { get; private set; }

        public Task BeatAsync(ServerHeartbeat heartbeat, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken)
        {
            Fail();
            Beats.Add((heartbeat, stats));
            return Task.CompletedTask;
        }

        public Task RemoveAsync(string ownerId, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken)
        {
            Fail();
            Removed.Add((ownerId, stats));
            return Task.CompletedTask;
        }

        public Task<int> PruneAsync(DateTimeOffset serversBefore, DateTimeOffset statsBefore, CancellationToken cancellationToken)
        {
            if (Prunes++ == 0)
            {
                FirstPrune = (serversBefore, statsBefore);
            }

            return Task.FromResult(0);
        }

        public Task<IReadOnlyList<ServerHeartbeat>> ListServersAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<StatsBucket>> GetStatsAsync(DateTimeOffset since, CancellationToken cancellationToken) => throw new NotSupportedException();

        private void Fail()
        {
            if (FailuresLeft > 0)
            {
                FailuresLeft--;
                throw new TimeoutException("database unreachable");
            }
        }
    }

    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<(int EventId, string Text, bool HasException)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((eventId.Id, formatter(state, exception), exception is not null));
    }
}
