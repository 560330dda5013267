using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.RabbitMQ.Consumers;
using Postbox.Retry;
using Postbox.Transport;
using Xunit.Abstractions;

namespace Postbox.Consumers.Tests;

/// <summary>
/// Adversarial checks of the partition hand-over (issue 14 review): inputs the spread tests do not cover — workers
/// joining and leaving while a stream runs, shutdowns that hand in-flight deliveries back in the middle of a release,
/// a retrying key whose partition moves to another worker.
/// </summary>
public sealed class PartitionHandOverAttackTests(ITestOutputHelper output) : ServerTest
{
    private const int Partitions = 6;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(180);

    // Workers come and go every ~0.7 s while keyed messages arrive: each join makes the others hand partitions over
    // (every 100 ms, the shortest interval), each leave releases all of the leaver's partitions at once, with a
    // shutdown timeout shorter than the slowest handler so some leaves hand in-flight deliveries back while their
    // partition is being released. A few failures put keys into the inbox's retry hold while their partition moves.
    [Theory]
    [InlineData(7001)]
    [InlineData(7002)]
    public async Task Partitions_WorkersJoinAndLeaveRepeatedlyDuringStream_NoKeyReorderedNothingLostOrTwice(int seed)
    {
        var random = new Random(seed);
        var topic = TestBroker.NewTopic("churn");
        KeyedMessages.TrackPartitions(Broker, topic, Partitions);
        const int perKey = 30;
        var keys = Enumerable.Range(0, 24).Select(i => $"k{i}").ToList();
        Assert.Equal(Partitions, keys.Select(k => KeyPartitioner.PartitionOf(k, Partitions)).Distinct().Count());
        await using var transport = KeyedMessages.Transport(Partitions);
        var ids = keys.SelectMany(k => Enumerable.Range(0, perKey).Select(i => $"{k}:{i}")).ToDictionary(b => b, _ => Guid.CreateVersion7());
        var delays = ids.Values.ToDictionary(id => id, _ => TimeSpan.FromMilliseconds(random.Next(10, 250)));
        var failures = ids.Values.ToDictionary(id => id, _ => random.NextDouble() < 0.04 ? 1 : 0);
        var handledBy = new ConcurrentDictionary<Guid, int>();
        var logs = new ConcurrentBag<CapturedLogs>();
        var running = new List<IHost>();
        var started = 0;
        var stopped = 0;

        async Task<IHost> StartAsync()
        {
            var worker = Interlocked.Increment(ref started);
            var log = new CapturedLogs();
            logs.Add(log);
            var script = new HandlerScript
            {
                ShouldFail = c => c.Attempt <= failures[c.MessageId],
                DelayFor = c =>
                {
                    handledBy[c.MessageId] = worker;
                    return delays[c.MessageId];
                },
            };
            return await ConsumerHost.StartAsync(Db, topic, script, o =>
                {
                    o.Concurrency = 8;
                    o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(300));
                },
                partitions: Partitions, services: s =>
                {
                    s.Configure<RabbitMQConsumerOptions>(o => o.RebalanceInterval = TimeSpan.FromMilliseconds(100));
                    s.Configure<ConsumerOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(random.Next(0, 2) == 0 ? 0 : 150));
                    s.AddSingleton<ILoggerProvider>(log);
                });
        }

        try
        {
            running.Add(await StartAsync());
            running.Add(await StartAsync());
            using var publishing = new CancellationTokenSource();
            var publish = Task.Run(async () =>
            {
                for (var i = 0; i < perKey; i++)
                {
                    await Task.WhenAll(keys.Select(k => transport.PublishAsync(new OutboxEnvelope(ids[$"{k}:{i}"], i, topic, k, "WorkItem",
                        JsonSerializer.SerializeToUtf8Bytes(new WorkItem($"{k}:{i}"), JsonSerializerOptions.Web), new Dictionary<string, string>(),
                        DateTimeOffset.UtcNow, 0, null), CancellationToken.None).AsTask()));
                    await Task.Delay(150);
                }
            });

            // Churn while publishing, and a little after: join up to 4, then leave down to 1, and again.
            var joining = true;
            while (!publish.IsCompleted || stopped < 6)
            {
                await Task.Delay(random.Next(400, 1000));
                if (joining && running.Count < 4 || running.Count < 2)
                {
                    running.Add(await StartAsync());
                    joining = running.Count < 4;
                }
                else
                {
                    var leaver = running[random.Next(running.Count)];
                    running.Remove(leaver);
                    await leaver.StopAsync();
                    leaver.Dispose();
                    stopped++;
                    joining = running.Count <= 1;
                }
            }

            await publish;
            while (running.Count < 2)
            {
                running.Add(await StartAsync());
            }

            var total = keys.Count * perKey;
            await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= total, Wait,
                $"{total} effects (have {await KeyedMessages.CountAsync(Db)})");
            await Task.Delay(1000);

            var moved = keys.Count(k => Enumerable.Range(0, perKey).Select(i => handledBy[ids[$"{k}:{i}"]]).Distinct().Count() > 1);
            output.WriteLine($"seed {seed}: {started} workers started, {stopped} stopped; {logs.Sum(l => l.Count(3107))} hand-overs; "
                + $"{moved} of {keys.Count} keys handled by more than one worker");
            KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(keys, perKey));
            Assert.Equal(total, await Db.EffectsAsync());
            Assert.Equal(total, await Db.DistinctEffectsAsync());
            Assert.True(moved > 0, "no key moved between workers");
            Assert.DoesNotContain(logs.SelectMany(l => l.Entries), e => e.Level >= LogLevel.Error);
        }
        finally
        {
            foreach (var host in running)
            {
                await host.StopAsync();
                host.Dispose();
            }
        }
    }

    // kill -9 of a worker at the moment it starts handing a partition over (its log line) while that partition has
    // deliveries being handled (slow handlers, a slot for every key): the broker requeues everything of the dead worker
    // and activates the next; the deliveries that were being handled roll back and run once elsewhere.
    [Fact]
    public async Task Partitions_WorkerKilledDuringHandOver_NoKeyReorderedNothingLostOrTwice()
    {
        var topic = TestBroker.NewTopic("killhandover");
        KeyedMessages.TrackPartitions(Broker, topic, Partitions);
        // The first worker registers first on every partition and must hand most of them over.
        var victim = await Start(topic);
        await using var transport = KeyedMessages.Transport(Partitions);
        var keys = Enumerable.Range(0, 48).Select(i => $"k{i}").ToList();
        Assert.Equal(Partitions, keys.Select(k => KeyPartitioner.PartitionOf(k, Partitions)).Distinct().Count());
        WorkerProcess? w2 = null, w3 = null;
        using var killed = new CancellationTokenSource();
        var rounds = 0;
        // Rounds of one message per key (each after the previous round's confirms) until the kill, and a few after it.
        var publish = Task.Run(async () =>
        {
            var after = 0;
            while (after < 5 && rounds < 200)
            {
                var i = rounds;
                await Task.WhenAll(keys.Select(k => transport.PublishAsync(new OutboxEnvelope(Guid.CreateVersion7(), i, topic, k, "WorkItem",
                    JsonSerializer.SerializeToUtf8Bytes(new WorkItem($"{k}:{i}"), JsonSerializerOptions.Web), new Dictionary<string, string>(),
                    DateTimeOffset.UtcNow, 0, null), CancellationToken.None).AsTask()));
                rounds++;
                after += killed.IsCancellationRequested ? 1 : 0;
                await Task.Delay(100);
            }
        });
        static bool HandingOverBusy(string line) =>
            line.Contains("Handing partition queue", StringComparison.Ordinal) && !line.Contains(" 0 deliveries being handled", StringComparison.Ordinal);
        try
        {
            await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 50, Wait, "the first worker handling");
            w2 = await Start(topic);
            w3 = await Start(topic);
            await TestEnvironment.WaitUntilAsync(() => Task.FromResult(victim.Output.Split('\n').Any(HandingOverBusy) || publish.IsCompleted), Wait,
                "the first worker starting a hand-over with deliveries being handled");
            await victim.SignalAsync("KILL");
            await killed.CancelAsync();
            Assert.True(await victim.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            await publish;
            var at = victim.Output.Split('\n').FirstOrDefault(HandingOverBusy);
            output.WriteLine($"{rounds} rounds; killed at: {at?.Trim()}");
            Assert.NotNull(at);

            var total = keys.Count * rounds;
            await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= total, Wait, $"{total} effects");
            await Task.Delay(1000);
            KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(keys, rounds));
            Assert.Equal(total, await Db.EffectsAsync());
            Assert.Equal(total, await Db.DistinctEffectsAsync());
            Assert.DoesNotContain((w2.Output + "\n" + w3.Output).Split('\n'), l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal));
        }
        finally
        {
            await killed.CancelAsync();
            await victim.DisposeAsync();
            if (w2 is not null)
            {
                await w2.DisposeAsync();
            }

            if (w3 is not null)
            {
                await w3.DisposeAsync();
            }
        }

        Task<WorkerProcess> Start(string name) =>
            WorkerProcess.StartAsync(Db, name, "100-300", shutdownMs: 1000, partitions: Partitions, concurrency: "48", timeoutMs: 5000, rebalanceMs: 300);
    }

    // A key's message fails at the worker that is active on its partition and waits for its retry (3 s); that worker
    // leaves, the partition moves to another worker, and the key's later messages arrive there: they must wait behind the
    // retry (parked in the inbox), not run first, and the retry then runs before them on the new worker.
    [Fact]
    public async Task Partitions_RetryingKeyMovesToAnotherWorker_LaterMessagesWaitForTheRetry()
    {
        var topic = TestBroker.NewTopic("retrymove");
        KeyedMessages.TrackPartitions(Broker, topic, Partitions);
        await using var transport = KeyedMessages.Transport(Partitions);
        var first = new HandlerScript { ShouldFail = c => c.Attempt == 1 };
        void Configure(HandlerOptions o) => o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromSeconds(3));
        void NoHandOver(IServiceCollection s) => s.Configure<RabbitMQConsumerOptions>(o => o.RebalanceInterval = TimeSpan.Zero);
        var leaver = await ConsumerHost.StartAsync(Db, topic, first, Configure, Partitions, NoHandOver);
        // Hosts subscribe in the background after they start. The leaver must be the active consumer of every partition
        // (the first registered) before the stayer starts, and the queues must exist before anything is published.
        await TestEnvironment.WaitUntilAsync(async () =>
        {
            for (var n = 0; n < Partitions; n++)
            {
                if (await Broker.ConsumerCountAsync($"{topic}.p{n}") < 1)
                {
                    return false;
                }
            }

            return true;
        }, Wait, "the first worker consuming every partition queue");
        var second = new HandlerScript();
        using var stayer = await ConsumerHost.StartAsync(Db, topic, second, Configure, Partitions, NoHandOver);
        try
        {
            var ids = await KeyedMessages.PublishAsync(transport, topic, ["a"], 1);
            var head = ids["a:0"];
            await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(head, ConsumerHost.Consumer))?.State == InboxState.Retrying, Wait,
                "a:0 waiting for its retry at the first worker");
            await leaver.StopAsync();
            leaver.Dispose();

            var later = new Dictionary<string, Guid>();
            for (var i = 1; i < 10; i++)
            {
                var id = Guid.CreateVersion7();
                later[$"a:{i}"] = id;
                await transport.PublishAsync(new OutboxEnvelope(id, i, topic, "a", "WorkItem",
                    JsonSerializer.SerializeToUtf8Bytes(new WorkItem($"a:{i}"), JsonSerializerOptions.Web), new Dictionary<string, string>(),
                    DateTimeOffset.UtcNow, 0, null), CancellationToken.None);
            }

            await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() >= 10, Wait, "the key's ten messages handled");
            await Task.Delay(500);
            KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(["a"], 10));
            Assert.Equal(10, await Db.EffectsAsync());
            Assert.Equal(1, second.Attempts[head]); // the retry ran at the second worker, once
            Assert.All(later.Values, id => Assert.Equal(1, second.Attempts[id]));
        }
        finally
        {
            await stayer.StopAsync();
        }
    }
}
