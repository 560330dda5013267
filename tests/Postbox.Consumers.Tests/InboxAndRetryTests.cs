using Microsoft.Extensions.DependencyInjection;
using Postbox.Consumers.Tests.Infrastructure;

namespace Postbox.Consumers.Tests;

public sealed class InboxAndRetryTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    [Fact]
    public async Task Inbox_SameMessageDeliveredTwice_RunsEffectOnce()
    {
        var topic = TestBroker.NewTopic("dup");
        await Broker.DeclareAsync(topic);
        var script = new HandlerScript { Delay = TimeSpan.FromMilliseconds(200) };
        using var host = await ConsumerHost.StartAsync(Db, topic, script);
        using var probe = new ConsumerHost.CounterProbe(host);

        var id = Guid.CreateVersion7();
        // Back to back: the second copy arrives while the first is still in its transaction (concurrency 8).
        await Broker.PublishAsync(topic, id, new WorkItem("once"));
        await Broker.PublishAsync(topic, id, new WorkItem("once"));
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(probe["succeeded"] + probe["duplicates"] >= 2), Wait, "both deliveries settled");

        // And once more, long after the first was committed.
        await Broker.PublishAsync(topic, id, new WorkItem("once"));
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(probe["duplicates"] >= 2), Wait, "third delivery recognised");

        Assert.Equal(1, await Db.EffectsAsync(id));
        Assert.Equal(1, probe["succeeded"]);
        Assert.Equal(2, probe["duplicates"]);
        var entry = await Db.EntryAsync(id, ConsumerHost.Consumer);
        Assert.Equal(InboxState.Processed, entry!.State);
        Assert.Equal(1, entry.Attempts);
        await TestEnvironment.WaitUntilAsync(async () => await Broker.ReadyCountAsync(topic) == 0, Wait, "queue drained");
        await host.StopAsync();
    }

    [Fact]
    public async Task Retries_HandlerFailsTwiceThenSucceeds_ThreeAttemptsRecordedOneEffect()
    {
        var topic = TestBroker.NewTopic("retry");
        await Broker.DeclareAsync(topic);
        var script = new HandlerScript { ShouldFail = c => c.Attempt <= 2 };
        using var host = await ConsumerHost.StartAsync(Db, topic, script, o => o.MaxAttempts = 6);

        var id = Guid.CreateVersion7();
        await Broker.PublishAsync(topic, id, new WorkItem("flaky"));
        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(id, ConsumerHost.Consumer))?.State == InboxState.Processed, Wait, "processed");

        var entry = await Db.EntryAsync(id, ConsumerHost.Consumer);
        Assert.Equal(3, entry!.Attempts);
        Assert.Equal([1, 2], entry.Errors.Select(e => e.Attempt));
        Assert.All(entry.Errors, e => Assert.Contains("Scripted failure", e.Error, StringComparison.Ordinal));
        Assert.Equal(3, script.Attempts[id]);
        Assert.Equal(1, await Db.EffectsAsync(id)); // the failed attempts' effects were rolled back
        Assert.Equal(0u, await Broker.ReadyCountAsync(topic));
        await host.StopAsync();
    }

    [Fact]
    public async Task Retries_HandlerAlwaysFails_DeadLetteredOthersFlowAndReplayRerunsIt()
    {
        var topic = TestBroker.NewTopic("poison");
        await Broker.DeclareAsync(topic);
        var poison = Guid.CreateVersion7();
        var healed = false;
        var script = new HandlerScript { ShouldFail = c => c.MessageId == poison && !Volatile.Read(ref healed) };
        using var host = await ConsumerHost.StartAsync(Db, topic, script, o => o.MaxAttempts = 3);
        var admin = host.Services.GetRequiredService<IInboxAdmin>();

        await Broker.PublishAsync(topic, poison, new WorkItem("poison"));
        var others = Enumerable.Range(0, 20).Select(_ => Guid.CreateVersion7()).ToList();
        foreach (var id in others)
        {
            await Broker.PublishAsync(topic, id, new WorkItem("ok"));
        }

        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(poison, ConsumerHost.Consumer))?.State == InboxState.Dead, Wait, "poison dead");
        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() == others.Count, Wait, "others processed");

        var dead = Assert.Single(await admin.ListDeadAsync(ConsumerHost.Consumer, 100, default));
        Assert.Equal(poison, dead.MessageId);
        Assert.Equal(3, dead.Attempts); // MaxAttempts
        Assert.Equal([1, 2, 3], dead.Errors.Select(e => e.Attempt));
        Assert.NotNull(dead.DeadAt);
        Assert.Equal(3, script.Attempts[poison]);
        Assert.Equal(0, await Db.EffectsAsync(poison));

        Volatile.Write(ref healed, true);
        Assert.Equal(1, await admin.ReplayDeadAsync(ConsumerHost.Consumer, [poison], default));
        Assert.Equal(0, await admin.ReplayDeadAsync(ConsumerHost.Consumer, [poison], default)); // no longer dead
        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(poison, ConsumerHost.Consumer))?.State == InboxState.Processed, Wait, "replayed");

        var entry = await Db.EntryAsync(poison, ConsumerHost.Consumer);
        Assert.Equal(1, entry!.Replays);
        Assert.Equal(3, entry.Errors.Count); // history kept
        Assert.Equal(1, await Db.EffectsAsync(poison));
        Assert.Equal(4, script.Attempts[poison]);
        Assert.Empty(await admin.ListDeadAsync(ConsumerHost.Consumer, 100, default));
        await host.StopAsync();
    }

    [Fact]
    public async Task Deserialization_MalformedPayload_DeadLetteredAtOnce()
    {
        var topic = TestBroker.NewTopic("malformed");
        await Broker.DeclareAsync(topic);
        var script = new HandlerScript();
        using var host = await ConsumerHost.StartAsync(Db, topic, script);

        var id = Guid.CreateVersion7();
        await Broker.PublishAsync(topic, id, new[] { 1, 2, 3 }); // an array, not a WorkItem
        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(id, ConsumerHost.Consumer))?.State == InboxState.Dead, Wait, "dead");
        Assert.False(script.Attempts.ContainsKey(id));
        await host.StopAsync();
    }
}
