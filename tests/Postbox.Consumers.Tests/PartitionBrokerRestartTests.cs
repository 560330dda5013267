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
}
