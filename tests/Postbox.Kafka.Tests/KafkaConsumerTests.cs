using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Postbox.Consumers;
using Postbox.Kafka.Tests.Infrastructure;

namespace Postbox.Kafka.Tests;

/// <summary>The consumer runtime on the Kafka source, with the PostgreSQL inbox, against librdkafka's mock cluster.</summary>
public sealed class KafkaConsumerTests : IAsyncLifetime
{
    private readonly TestDatabase _db = new();

    public Task InitializeAsync() => _db.InitializeAsync();

    public Task DisposeAsync() => _db.DisposeAsync();

    private static async Task PublishAsync(string topic, IEnumerable<OutboxEnvelope> envelopes)
    {
        await using var transport = Hosts.Transport();
        await Task.WhenAll(envelopes.Select(e => transport.PublishAsync(e, CancellationToken.None).AsTask()));
    }

    private static List<OutboxEnvelope> Bodies(string topic, int from, int count) =>
        [.. Enumerable.Range(from, count).Select(i => Hosts.Envelope(topic, $"m{i}", key: $"k{i % 16}"))];

    private static async Task<long> CommittedTotalAsync(string topic, int partitions, string group = Hosts.Consumer) =>
        (await MockKafka.CommittedAsync(group, topic, partitions)).Values.Sum(o => Math.Max(o, 0));

    [Fact]
    public async Task Worker_RestartedMidStream_LosesNothing_AndNoEffectHappensTwice()
    {
        var topic = MockKafka.NewTopic("restart");
        await MockKafka.CreateTopicAsync(topic, 4);
        await PublishAsync(topic, Bodies(topic, 0, 1000));

        var first = await Hosts.StartWorkerAsync(_db, topic, new HandlerScript());
        await Eventually.HoldsAsync(async () => await _db.EffectsAsync() >= 200, TimeSpan.FromMinutes(1), "the first worker handled some");
        await first.StopAsync();
        first.Dispose();
        var afterFirst = await _db.EffectsAsync();

        await PublishAsync(topic, Bodies(topic, 1000, 200));
        var second = await Hosts.StartWorkerAsync(_db, topic, new HandlerScript());
        await Eventually.HoldsAsync(async () => await _db.DistinctEffectsAsync() == 1200, TimeSpan.FromMinutes(1), "every message is handled");
        await Eventually.HoldsAsync(async () => await CommittedTotalAsync(topic, 4) == 1200, TimeSpan.FromSeconds(30), "every offset is committed");
        await second.StopAsync();
        second.Dispose();

        Assert.True(afterFirst < 1200, "the first worker should have been stopped mid-stream");
        Assert.Equal(1200, await _db.EffectsAsync());
    }

    [Fact]
    public async Task DuplicateDelivery_IsDeduplicatedByTheInbox()
    {
        var topic = MockKafka.NewTopic("dupes");
        await MockKafka.CreateTopicAsync(topic, 2);
        var id = Guid.CreateVersion7();
        // The same message published three times (a relay retry after a lost confirm does exactly this), plus another one.
        await PublishAsync(topic, [Hosts.Envelope(topic, "once", id, key: "a")]);
        await PublishAsync(topic, [Hosts.Envelope(topic, "once", id, key: "a"), Hosts.Envelope(topic, "other", key: "b")]);
        await PublishAsync(topic, [Hosts.Envelope(topic, "once", id, key: "a")]);
        var script = new HandlerScript();

        using var worker = await Hosts.StartWorkerAsync(_db, topic, script);
        await Eventually.HoldsAsync(async () => await CommittedTotalAsync(topic, 2) == 4, TimeSpan.FromMinutes(1), "all four records are committed");
        await worker.StopAsync();

        Assert.Equal(2, await _db.EffectsAsync());
        Assert.Equal(1, await _db.ScalarAsync<long>($"SELECT count(*) FROM {{schema}}.effects WHERE message_id = '{id}'"));
        Assert.Equal(1, script.Attempts[id]);
    }

    [Fact]
    public async Task Offsets_AreCommittedInOrder_ALaterOffsetWaitsForAnEarlierOneStillRunning()
    {
        var topic = MockKafka.NewTopic("inorder");
        await MockKafka.CreateTopicAsync(topic, 1);
        await PublishAsync(topic, [.. Enumerable.Range(0, 10).Select(i => Hosts.Envelope(topic, $"m{i}"))]);
        var script = new HandlerScript { Holds = body => body == "m0" };

        using var worker = await Hosts.StartWorkerAsync(_db, topic, script);
        await Eventually.HoldsAsync(() => Task.FromResult(script.Handled.Count == 9), TimeSpan.FromMinutes(1), "m1..m9 are handled while m0 waits");
        // Many commit intervals (50 ms) pass: offsets 1..9 are done, yet none may be committed while offset 0 is not.
        await Task.Delay(1000);
        var whileHeld = (await MockKafka.CommittedAsync(Hosts.Consumer, topic, 1))[0];

        script.Release.SetResult();
        await Eventually.HoldsAsync(async () => await CommittedTotalAsync(topic, 1) == 10, TimeSpan.FromSeconds(30), "all ten are committed");
        await worker.StopAsync();

        Assert.True(whileHeld <= 0, $"offset {whileHeld} was committed while offset 0 was still being handled");
        Assert.Equal(10, await _db.EffectsAsync());
    }

    [Fact]
    public async Task Pause_StopsIntake_Resume_TakesMessagesAgain()
    {
        var topic = MockKafka.NewTopic("pause");
        await MockKafka.CreateTopicAsync(topic, 3);
        await PublishAsync(topic, Bodies(topic, 0, 30));
        var script = new HandlerScript();
        using var worker = await Hosts.StartWorkerAsync(_db, topic, script);
        await Eventually.HoldsAsync(() => Task.FromResult(script.Handled.Count == 30), TimeSpan.FromMinutes(1), "the first 30 are handled");

        var control = worker.Services.GetRequiredService<IConsumerControl>();
        await control.PauseAsync();
        await PublishAsync(topic, Bodies(topic, 30, 30));
        await Task.Delay(1500); // room for a wrongly delivered message to be handled
        var whilePaused = script.Handled.Count;

        await control.ResumeAsync();
        await Eventually.HoldsAsync(() => Task.FromResult(script.Handled.Count == 60), TimeSpan.FromMinutes(1), "the rest is handled after resuming");
        await worker.StopAsync();

        Assert.Equal(30, whilePaused);
        Assert.Equal(60, await _db.DistinctEffectsAsync());
        Assert.Equal(60, await _db.EffectsAsync());
    }

    [Fact]
    public async Task Rebalance_SecondWorkerJoinsThenFirstLeaves_NothingLost_NoDoubleEffect()
    {
        var topic = MockKafka.NewTopic("rebalance");
        await MockKafka.CreateTopicAsync(topic, 4);
        await PublishAsync(topic, Bodies(topic, 0, 600));
        // A is slow enough (1,000 × 20 ms over 2 slots ≈ 10 s) that it cannot drain the topic before B's join is
        // rebalanced; otherwise B could get partitions with nothing left on them, and the test would wait in vain.
        var scriptA = new HandlerScript { Delay = TimeSpan.FromMilliseconds(20) };
        var scriptB = new HandlerScript();

        var a = await Hosts.StartWorkerAsync(_db, topic, scriptA, concurrency: 2);
        await Eventually.HoldsAsync(async () => await _db.EffectsAsync() >= 50, TimeSpan.FromMinutes(1), "worker A handled some");
        var b = await Hosts.StartWorkerAsync(_db, topic, scriptB, concurrency: 2);
        await PublishAsync(topic, Bodies(topic, 600, 400));
        await Eventually.HoldsAsync(() => Task.FromResult(!scriptB.Handled.IsEmpty), TimeSpan.FromMinutes(1), "worker B got partitions");
        await a.StopAsync();
        a.Dispose();
        await Eventually.HoldsAsync(async () => await _db.DistinctEffectsAsync() == 1000, TimeSpan.FromMinutes(2), "every message is handled");
        await Eventually.HoldsAsync(async () => await CommittedTotalAsync(topic, 4) == 1000, TimeSpan.FromSeconds(30), "every offset is committed");
        await b.StopAsync();
        b.Dispose();

        Assert.Equal(1000, await _db.EffectsAsync());
    }
}
