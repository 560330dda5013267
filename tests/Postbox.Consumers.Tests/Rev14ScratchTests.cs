using Postbox.Consumers.Tests.Infrastructure;

namespace Postbox.Consumers.Tests;

/// <summary>Reviewer's scratch attacks on per-key order (rev14).</summary>
public sealed class Rev14ScratchTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    // docs/ordering.md: "Keys never wait for each other". A hot key with a backlog in one (unpartitioned) queue fills the
    // ordered prefetch (2 x Concurrency) with its own waiting messages; the other keys queued behind it cannot be delivered.
    [Fact]
    public async Task Rev14_HotKeyBacklog_OtherKeysDoNotWaitForIt()
    {
        var topic = TestBroker.NewTopic("rev14hot");
        await Broker.DeclareAsync(topic);
        var script = new HandlerScript { Delay = TimeSpan.FromMilliseconds(100) };
        using var host = await ConsumerHost.StartAsync(Db, topic, script); // Concurrency 8, prefetch 16
        for (var i = 0; i < 40; i++)
        {
            await Broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem($"hot:{i}"), key: "hot");
        }

        for (var k = 0; k < 8; k++)
        {
            await Broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem($"o{k}:0"), key: $"o{k}");
        }

        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 48, Wait, "48 effects");
        var effects = await KeyedMessages.EffectsAsync(Db);
        var order = effects.Select(e => e.Body).ToList();
        var hotDoneBeforeOthers = order.TakeWhile(b => b.StartsWith("hot:", StringComparison.Ordinal)).Count();
        Console.WriteLine($"REV14 hot messages handled before the first other key: {hotDoneBeforeOthers}; order: {string.Join(' ', order)}");
        await host.StopAsync();
        Assert.True(hotDoneBeforeOthers < 5, $"other keys waited for {hotDoneBeforeOthers} messages of the hot key");
    }
}

public sealed class Rev14ScratchRestartTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    // A dead letter under Block, the worker restarts, more messages of the key arrive, then the dead letter is replayed.
    [Fact]
    public async Task Rev14_BlockedKey_WorkerRestarts_NewMessagesParkThenReplayResumesInOrder()
    {
        var topic = TestBroker.NewTopic("rev14restart");
        await Broker.DeclareAsync(topic);
        var ids = Enumerable.Range(0, 10).Select(i => (Body: $"a:{i}", Id: Guid.CreateVersion7())).ToList();
        var poison = ids[2].Id;
        var healed = false;
        var script = new HandlerScript { ShouldFail = c => c.MessageId == poison && !Volatile.Read(ref healed) };
        var host = await ConsumerHost.StartAsync(Db, topic, script, o => o.MaxAttempts = 2);
        foreach (var m in ids.Take(5))
        {
            await Broker.PublishAsync(topic, m.Id, new WorkItem(m.Body), key: "a");
        }

        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(poison, ConsumerHost.Consumer))?.State == InboxState.Dead, Wait, "a:2 dead");
        await host.StopAsync();
        host.Dispose();

        using var second = await ConsumerHost.StartAsync(Db, topic, script, o => o.MaxAttempts = 2);
        foreach (var m in ids.Skip(5))
        {
            await Broker.PublishAsync(topic, m.Id, new WorkItem(m.Body), key: "a");
        }

        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(ids[9].Id, ConsumerHost.Consumer))?.State == InboxState.Retrying, Wait, "a:9 parked");
        await Task.Delay(1000);
        Assert.Equal(2, await KeyedMessages.CountAsync(Db));
        Volatile.Write(ref healed, true);
        var admin = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IInboxAdmin>(second.Services);
        Assert.Equal(1, await admin.ReplayDeadAsync(ConsumerHost.Consumer, [poison], default));
        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 10, Wait, "key resumed");
        KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(["a"], 10));
        await second.StopAsync();
    }
}
