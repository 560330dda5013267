using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.Relay;
using Postbox.Retry;

namespace Postbox.Consumers.Tests;

/// <summary>
/// Per-key order end to end on real RabbitMQ and PostgreSQL: the runtime's key queues, parking behind a retrying or dead
/// message, and single-active-consumer partitions across worker processes (see docs/ordering.md).
/// </summary>
public sealed class KeyOrderTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task KeyOrder_TwentyKeysThreeWorkerProcesses_EachKeySeenInEnqueueOrderEveryMessageOnce()
    {
        const int partitions = 4;
        var topic = TestBroker.NewTopic("keys3");
        KeyedMessages.TrackPartitions(Broker, topic, partitions);
        var keys = Enumerable.Range(0, 20).Select(i => $"k{i}").ToList();
        await using var w1 = await WorkerProcess.StartAsync(Db, topic, "0-4", partitions: partitions, concurrency: "default");
        await using var w2 = await WorkerProcess.StartAsync(Db, topic, "0-4", partitions: partitions, concurrency: "default");
        await using var w3 = await WorkerProcess.StartAsync(Db, topic, "0-4", partitions: partitions, concurrency: "default");
        await using var transport = KeyedMessages.Transport(partitions);

        await KeyedMessages.PublishAsync(transport, topic, keys, 200);
        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 4000, Wait, "4,000 effects");
        await Task.Delay(500); // anything handled twice would show now

        KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(keys, 200));
        Assert.Equal(4000, await Db.EffectsAsync());
        Assert.Equal(4000, await Db.DistinctEffectsAsync());
    }

    [Fact]
    public async Task KeyOrder_WorkerKilledMidStream_PartitionsMoveToAnotherOrderHoldsNothingLostOrTwice()
    {
        const int partitions = 4;
        var topic = TestBroker.NewTopic("keykill");
        KeyedMessages.TrackPartitions(Broker, topic, partitions);
        var keys = Enumerable.Range(0, 20).Select(i => $"k{i}").ToList();
        // Hand-overs off: the first worker to register is the single active consumer of every partition; the second waits.
        // (A killed worker after spreading: PartitionSpreadTests.)
        var first = await WorkerProcess.StartAsync(Db, topic, "2-6", partitions: partitions, concurrency: "default", rebalanceMs: 0);
        await using var second = await WorkerProcess.StartAsync(Db, topic, "2-6", partitions: partitions, concurrency: "default", rebalanceMs: 0);
        await using var transport = KeyedMessages.Transport(partitions);

        var publish = KeyedMessages.PublishAsync(transport, topic, keys, 100);
        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 300, Wait, "300 effects before the kill");
        await first.SignalAsync("KILL");
        Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await first.DisposeAsync();
        await publish;

        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 2000, Wait, "2,000 effects");
        await Task.Delay(500);
        KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(keys, 100));
        Assert.Equal(2000, await Db.EffectsAsync());
        Assert.Equal(2000, await Db.DistinctEffectsAsync());
        Assert.True(second.CountLines("DONE ") > 0, "the second worker took the partitions over");
    }

    [Fact]
    public async Task KeyOrder_MessageFailsTwiceThenSucceeds_LaterMessagesOfItsKeyWaitOtherKeysFlow()
    {
        var topic = TestBroker.NewTopic("keyretry");
        await Broker.DeclareAsync(topic);
        var keys = new[] { "a", "b", "c", "d", "e" };
        var ids = keys.SelectMany(k => Enumerable.Range(0, 20).Select(i => (Body: $"{k}:{i}", Key: k, Id: Guid.CreateVersion7()))).ToList();
        var flaky = ids.Single(m => m.Body == "a:5").Id;
        var script = new HandlerScript { ShouldFail = c => c.MessageId == flaky && c.Attempt <= 2 };
        using var host = await ConsumerHost.StartAsync(Db, topic, script, o =>
        {
            o.MaxAttempts = 6;
            o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromSeconds(1));
        });

        // Interleaved, as a relay publishes many keys; in enqueue order within each key.
        foreach (var m in ids.OrderBy(m => int.Parse(m.Body.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)))
        {
            await Broker.PublishAsync(topic, m.Id, new WorkItem(m.Body), key: m.Key);
        }

        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 100, Wait, "100 effects");
        var effects = await KeyedMessages.EffectsAsync(Db);
        KeyedMessages.AssertInOrder(effects, KeyedMessages.All(keys, 20));
        Assert.Equal(3, script.Attempts[flaky]);

        // The other keys did not wait for key a's retries: all of them were done before a:5 finally succeeded.
        var flakyAt = effects.Single(e => e.Body == "a:5").At;
        Assert.All(effects.Where(e => !e.Body.StartsWith("a:", StringComparison.Ordinal)), e => Assert.True(e.At < flakyAt, $"{e.Body} waited for key a"));
        // a:6 arrived while a:5 was retrying: it was parked in the inbox behind it and ran as attempt 1.
        var parked = await Db.EntryAsync(ids.Single(m => m.Body == "a:6").Id, ConsumerHost.Consumer);
        Assert.Equal(InboxState.Processed, parked!.State);
        Assert.Equal(1, parked.Attempts);
        Assert.Equal(0u, await Broker.ReadyCountAsync(topic));
        await host.StopAsync();
    }

    [Theory]
    [InlineData(DeadKeyPolicy.Block)]
    [InlineData(DeadKeyPolicy.Skip)]
    public async Task KeyOrder_DeadLetter_BlockStopsItsKeyUntilReplayedSkipGoesOn(DeadKeyPolicy policy)
    {
        var topic = TestBroker.NewTopic("keydead");
        await Broker.DeclareAsync(topic);
        var keys = new[] { "a", "b", "c" };
        var ids = keys.SelectMany(k => Enumerable.Range(0, 10).Select(i => (Body: $"{k}:{i}", Key: k, Id: Guid.CreateVersion7()))).ToList();
        var poison = ids.Single(m => m.Body == "a:3").Id;
        var healed = false;
        var script = new HandlerScript { ShouldFail = c => c.MessageId == poison && !Volatile.Read(ref healed) };
        using var host = await ConsumerHost.StartAsync(Db, topic, script, o =>
        {
            o.MaxAttempts = 2;
            o.DeadKeyPolicy = policy;
        });
        var admin = host.Services.GetRequiredService<IInboxAdmin>();
        foreach (var m in ids)
        {
            await Broker.PublishAsync(topic, m.Id, new WorkItem(m.Body), key: m.Key);
        }

        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(poison, ConsumerHost.Consumer))?.State == InboxState.Dead, Wait, "a:3 dead");
        var later = ids.Where(m => m.Key == "a" && int.Parse(m.Body[2..], System.Globalization.CultureInfo.InvariantCulture) > 3).ToList();
        if (policy == DeadKeyPolicy.Block)
        {
            // Every later message of key a has arrived and waits, parked in the inbox; b and c are done.
            await TestEnvironment.WaitUntilAsync(async () =>
            {
                foreach (var m in later)
                {
                    if ((await Db.EntryAsync(m.Id, ConsumerHost.Consumer))?.State != InboxState.Retrying)
                    {
                        return false;
                    }
                }

                return await KeyedMessages.CountAsync(Db) >= 23;
            }, Wait, "a:4..a:9 parked, b and c done");
            await Task.Delay(1500); // several retry polls: a parked message must not run now
            KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), new Dictionary<string, int[]>
            {
                ["a"] = [0, 1, 2], ["b"] = Enumerable.Range(0, 10).ToArray(), ["c"] = Enumerable.Range(0, 10).ToArray(),
            });

            Volatile.Write(ref healed, true);
            Assert.Equal(1, await admin.ReplayDeadAsync(ConsumerHost.Consumer, [poison], default));
            await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 30, Wait, "key a resumed");
            KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(keys, 10));
        }
        else
        {
            await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 29, Wait, "all but the dead one");
            await Task.Delay(500);
            KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), new Dictionary<string, int[]>
            {
                ["a"] = [0, 1, 2, 4, 5, 6, 7, 8, 9], ["b"] = Enumerable.Range(0, 10).ToArray(), ["c"] = Enumerable.Range(0, 10).ToArray(),
            });
            Assert.Equal(InboxState.Dead, (await Db.EntryAsync(poison, ConsumerHost.Consumer))!.State);
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task KeyOrder_UnorderedHandler_RetryingMessageDoesNotHoldItsKey()
    {
        var topic = TestBroker.NewTopic("keyunordered");
        await Broker.DeclareAsync(topic);
        var ids = Enumerable.Range(0, 10).Select(i => (Body: $"a:{i}", Id: Guid.CreateVersion7())).ToList();
        var flaky = ids[2].Id;
        var script = new HandlerScript { ShouldFail = c => c.MessageId == flaky && c.Attempt <= 2 };
        using var host = await ConsumerHost.StartAsync(Db, topic, script, o =>
        {
            o.Ordering = MessageOrdering.Unordered;
            o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromSeconds(1));
        });
        foreach (var m in ids)
        {
            await Broker.PublishAsync(topic, m.Id, new WorkItem(m.Body), key: "a");
        }

        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 10, Wait, "10 effects");
        var effects = await KeyedMessages.EffectsAsync(Db);
        // Today's behaviour: the key's later messages did not wait for a:2's retries.
        Assert.Equal("a:2", effects[^1].Body);
        Assert.Equal(3, script.Attempts[flaky]);
        Assert.Equal(10, await Db.DistinctEffectsAsync());
        await host.StopAsync();
    }
}

/// <summary>The same guarantee in one process: outbox → relay → in-memory transport → handler.</summary>
public sealed class InMemoryKeyOrderTests : ServerTest
{
    [Fact]
    public async Task KeyOrder_InMemoryTransport_RetryingMessageHoldsItsKeyEveryKeyInEnqueueOrder()
    {
        var topic = "inmem-" + Guid.NewGuid().ToString("N");
        var keys = Enumerable.Range(0, 10).Select(i => $"k{i}").ToList();
        // Interleaved keys, each key's messages in order.
        var messages = Enumerable.Range(0, 30).SelectMany(i => keys.Select(k => (Body: $"{k}:{i}", Message: OutboxMessage.FromJson(topic, new WorkItem($"{k}:{i}"), key: k)))).ToList();
        var flaky = messages.Single(m => m.Body == "k3:4").Message.Id;
        var script = new HandlerScript { Schema = Db.Schema, ShouldFail = c => c.MessageId == flaky && c.Attempt <= 2, Delay = TimeSpan.FromMilliseconds(2) };
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(script);
        builder.Services.AddPostbox(o => o.Relay.PollInterval = TimeSpan.FromMilliseconds(50))
            .UsePostgreSql(TestEnvironment.PostgresConnectionString, o => { o.Schema = Db.Schema; o.ListenForNotifications = false; })
            .UsePostgreSqlInbox()
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o => { o.HandleSignals = false; o.RetryPollInterval = TimeSpan.FromMilliseconds(50); })
            .AddHandler<WorkItem, TestHandler>(topic, o =>
            {
                o.ConsumerName = "inmem";
                o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(300));
            });
        using var host = builder.Build();
        await host.StartAsync();

        await using (var connection = await Db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await host.Services.GetRequiredService<IOutbox>().EnqueueAsync(transaction, [.. messages.Select(m => m.Message)]);
            await transaction.CommitAsync();
        }

        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 300, TimeSpan.FromSeconds(60), "300 effects");
        KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(keys, 30));
        Assert.Equal(3, script.Attempts[flaky]);
        await host.StopAsync();
    }
}
