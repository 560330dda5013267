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
/// The broker restarted (<c>rabbitmqctl stop_app</c>/<c>start_app</c>) while partitions are being handed over between
/// three workers (issue 14 review). Restarts the broker: in the non-parallel broker-restart collection.
/// </summary>
[Collection(BrokerRestartGroup.Name)]
public sealed class PartitionBrokerRestartTests(ITestOutputHelper output) : ServerTest
{
    private const int Partitions = 6;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task Partitions_BrokerRestartedDuringHandOvers_NoKeyReorderedNothingLostOrTwice()
    {
        var random = new Random(4242);
        var topic = TestBroker.NewTopic("partrestart");
        KeyedMessages.TrackPartitions(Broker, topic, Partitions);
        const int perKey = 30;
        var keys = Enumerable.Range(0, 24).Select(i => $"k{i}").ToList();
        var ids = keys.SelectMany(k => Enumerable.Range(0, perKey).Select(i => $"{k}:{i}")).ToDictionary(b => b, _ => Guid.CreateVersion7());
        var delays = ids.Values.ToDictionary(id => id, _ => TimeSpan.FromMilliseconds(random.Next(20, 200)));
        var failures = ids.Values.ToDictionary(id => id, _ => random.NextDouble() < 0.03 ? 1 : 0);
        var logs = Enumerable.Range(0, 3).Select(_ => new CapturedLogs()).ToArray();
        var hosts = new List<IHost>();
        await using var transport = KeyedMessages.Transport(Partitions);
        try
        {
            for (var h = 0; h < 3; h++)
            {
                var log = logs[h];
                var script = new HandlerScript { ShouldFail = c => c.Attempt <= failures[c.MessageId], DelayFor = c => delays[c.MessageId] };
                hosts.Add(await ConsumerHost.StartAsync(Db, topic, script, o =>
                    {
                        o.Concurrency = 8;
                        o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(300));
                    },
                    partitions: Partitions, services: s =>
                    {
                        s.Configure<RabbitMQConsumerOptions>(o => o.RebalanceInterval = TimeSpan.FromMilliseconds(100));
                        s.AddSingleton<ILoggerProvider>(log);
                    }));
            }

            // Each key's messages in order, the next after the previous one's confirm, retried while the broker is down (as
            // the relay does; a publish whose confirm was lost may arrive twice: the inbox recognises the copy).
            var publish = Task.WhenAll(keys.Select(async k =>
            {
                for (var i = 0; i < perKey; i++)
                {
                    while (true)
                    {
                        try
                        {
                            await transport.PublishAsync(new OutboxEnvelope(ids[$"{k}:{i}"], i, topic, k, "WorkItem",
                                JsonSerializer.SerializeToUtf8Bytes(new WorkItem($"{k}:{i}"), JsonSerializerOptions.Web), new Dictionary<string, string>(),
                                DateTimeOffset.UtcNow, 0, null), CancellationToken.None);
                            break;
                        }
                        catch (Exception ex) when (ex is TransportException or OperationCanceledException)
                        {
                            await Task.Delay(200);
                        }
                    }

                    await Task.Delay(60);
                }
            }));

            try
            {
                await TestEnvironment.WaitUntilAsync(() => Task.FromResult(logs.Sum(l => l.Count(3107)) >= 2), TimeSpan.FromSeconds(60), "hand-overs under way");
            }
            catch (TimeoutException)
            {
                output.WriteLine($"effects {await Db.EffectsAsync()}; events: {string.Join(", ", logs.SelectMany(l => l.Entries).GroupBy(e => e.EventId).Select(g => $"{g.Key}x{g.Count()}"))}");
                foreach (var e in logs[0].Entries.Take(30))
                {
                    output.WriteLine($"{e.EventId} {e.Message}");
                }

                throw;
            }

            try
            {
                await TestBroker.RabbitMQCtlAsync("stop_app");
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            finally
            {
                await TestBroker.RabbitMQCtlAsync("start_app");
                await TestBroker.RabbitMQCtlAsync("await_startup --timeout 60");
            }

            await Broker.ResetAsync();
            await publish;
            var total = keys.Count * perKey;
            await TestEnvironment.WaitUntilAsync(async () => await Db.DistinctEffectsAsync() >= total, Wait,
                $"{total} effects (have {await Db.DistinctEffectsAsync()})");
            await Task.Delay(1000);
            output.WriteLine($"hand-overs per worker: {string.Join(", ", logs.Select(l => l.Count(3107)))}");
            KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(keys, perKey));
            Assert.Equal(total, await Db.EffectsAsync());
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.StopAsync();
                host.Dispose();
            }
        }
    }

    // A worker paused (SIGTSTP, IConsumerControl.PauseAsync) while the broker is down must not come back as a consumer when
    // the connection recovers: a paused worker holds no partition (docs/ordering.md), else it would be the single active
    // consumer of partitions it does not handle, and they would stall until it resumes.
    [Fact]
    public async Task Partitions_WorkerPausedWhileBrokerDown_TakesNoPartitionWhenTheBrokerIsBack()
    {
        var topic = TestBroker.NewTopic("pausedown");
        KeyedMessages.TrackPartitions(Broker, topic, Partitions);
        Broker.Track(topic);
        var logs = new CapturedLogs();
        var script = new HandlerScript();
        using var paused = await ConsumerHost.StartAsync(Db, topic, script, partitions: Partitions,
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        await using var transport = KeyedMessages.Transport(Partitions);
        var warm = Enumerable.Range(0, 60).Select(i => $"w{i}").ToList();
        Assert.Equal(Partitions, warm.Select(k => KeyPartitioner.PartitionOf(k, Partitions)).Distinct().Count());
        await KeyedMessages.PublishAsync(transport, topic, warm, 1);
        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() >= 60, Wait, "the first worker handling");

        try
        {
            await TestBroker.RabbitMQCtlAsync("stop_app");
            await TestEnvironment.WaitUntilAsync(() => Task.FromResult(logs.Count(3102) > 0), Wait, "the connection lost");
            await paused.Services.GetRequiredService<IConsumerControl>().PauseAsync();
        }
        finally
        {
            await TestBroker.RabbitMQCtlAsync("start_app");
            await TestBroker.RabbitMQCtlAsync("await_startup --timeout 60");
        }

        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(logs.Count(3103) > 0), Wait, "the paused worker's connection recovered");
        await Task.Delay(1000);
        using var other = await ConsumerHost.StartAsync(Db, topic, new HandlerScript(), partitions: Partitions);
        await Broker.ResetAsync();
        var keys = Enumerable.Range(0, 24).Select(i => $"k{i}").ToList();
        await KeyedMessages.PublishAsync(transport, topic, keys, 5);
        await Broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem("keyless:0"));
        try
        {
            await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() >= 60 + 121, TimeSpan.FromSeconds(60),
                "the other worker handling every message while the first one is paused");
        }
        finally
        {
            output.WriteLine($"handled: {await Db.EffectsAsync() - 60} of 121; paused worker attempts after the pause: {script.Attempts.Count - 60}");
            await other.StopAsync();
            await paused.StopAsync();
        }

        Assert.Equal(60, script.Attempts.Count); // the paused worker handled nothing more
        KeyedMessages.AssertInOrder((await KeyedMessages.EffectsAsync(Db)).Where(e => keys.Contains(e.Body.Split(':')[0])), KeyedMessages.All(keys, 5));
    }

    // Resumed (SIGCONT, IConsumerControl.ResumeAsync) while the broker is down: registering the consumers fails then, and
    // the worker must register once the broker is back — its topic's own queue (keyless messages) as well as its partitions.
    [Fact]
    public async Task Partitions_WorkerResumedWhileBrokerDown_ConsumesAgainWhenTheBrokerIsBack()
    {
        var topic = TestBroker.NewTopic("resumedown");
        KeyedMessages.TrackPartitions(Broker, topic, Partitions);
        Broker.Track(topic);
        var logs = new CapturedLogs();
        using var host = await ConsumerHost.StartAsync(Db, topic, new HandlerScript(), partitions: Partitions,
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        var control = host.Services.GetRequiredService<IConsumerControl>();
        await control.PauseAsync();
        try
        {
            await TestBroker.RabbitMQCtlAsync("stop_app");
            await TestEnvironment.WaitUntilAsync(() => Task.FromResult(logs.Count(3102) > 0), Wait, "the connection lost");
            await control.ResumeAsync();
        }
        finally
        {
            await TestBroker.RabbitMQCtlAsync("start_app");
            await TestBroker.RabbitMQCtlAsync("await_startup --timeout 60");
        }

        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(logs.Count(3103) > 0), Wait, "the connection recovered");
        await Broker.ResetAsync();
        await using var transport = KeyedMessages.Transport(Partitions);
        var keys = Enumerable.Range(0, 12).Select(i => $"k{i}").ToList();
        await KeyedMessages.PublishAsync(transport, topic, keys, 3);
        for (var i = 0; i < 5; i++)
        {
            await Broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem($"keyless:{i}"));
        }

        try
        {
            await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() >= 41, TimeSpan.FromSeconds(60), "every message handled after the resume");
        }
        finally
        {
            output.WriteLine($"handled {await Db.EffectsAsync()} of 41 (36 keyed, 5 keyless)");
            await host.StopAsync();
        }
    }
}
