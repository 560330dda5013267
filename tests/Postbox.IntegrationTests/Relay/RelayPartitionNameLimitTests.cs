using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.RabbitMQ;
using Postbox.Retry;
using Xunit.Abstractions;

namespace Postbox.IntegrationTests.Relay;

/// <summary>
/// A topic that passes the enqueue check (at most 255 bytes) can still make a partition's routing key or queue name
/// (<c>{topic}.p{n}</c>, with the queue prefix) longer than an AMQP short string: only that message fails, permanently,
/// on its first attempt (before, it was retried as transient until MaxAttempts, with an encoder error as the reason).
/// </summary>
public sealed class RelayPartitionNameLimitTests(ITestOutputHelper output) : ServerTest
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_PartitionedTopicWhoseRoutingKeyOrQueueNameExceeds255Bytes_GoesDeadAtOnceAlone(bool declareQueues)
    {
        await Broker.ConsumeAsync("orders");
        // passes prefix+topic <= 255 (declare) or topic <= 255 (no declare), but not with ".p{n}" appended
        var topic = new string('a', declareQueues ? 255 - Broker.QueuePrefix.Length - 1 : 254);
        var bad = PostgresSchema.Message(topic, key: "k1", maxAttempts: 3);
        var normal = Enumerable.Range(0, 20).Select(i => PostgresSchema.Message("orders")).ToList();
        await Schema.EnqueueAsync([.. normal.Take(10), bad, .. normal.Skip(10)]);
        var logs = new LogCollector();
        using var relay = PostboxHost.Build(Schema, b =>
        {
            Broker.UseIn(b, declareQueues);
            b.Services.Configure<RabbitMQTransportOptions>(o => o.Partitions = 4);
        }, o => o.Relay.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(300)),
            services: s => s.AddLogging(l => l.AddProvider(logs).AddFilter<LogCollector>(null, LogLevel.Information)));
        await relay.StartAsync();
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state IN (1, 2)") == 21,
            TimeSpan.FromSeconds(60), "all delivered or dead");
        await relay.StopAsync();
        foreach (var line in logs.Lines().Take(40))
        {
            output.WriteLine(line);
        }

        output.WriteLine("bad: " + await Schema.ScalarAsync<string>($"SELECT state || ' ' || attempts || ' ' || coalesce(last_error,'-') FROM {{schema}}.outbox WHERE id = '{bad.Id}'"));
        output.WriteLine("delivered normal: " + await Schema.ScalarAsync<long>($"SELECT count(*) FROM {{schema}}.outbox WHERE state = 1 AND id <> '{bad.Id}'"));
        output.WriteLine("received: " + Broker.Received.Count + " transport-down logs: " + logs.Count(1140));
        Assert.Equal(20L, await Schema.ScalarAsync<long>($"SELECT count(*) FROM {{schema}}.outbox WHERE state = 1 AND id <> '{bad.Id}'"));
        Assert.Contains("exceeds 255 bytes", await Schema.ScalarAsync<string>($"SELECT last_error FROM {{schema}}.outbox WHERE id = '{bad.Id}'"), StringComparison.Ordinal);
        Assert.Equal(1, await Schema.ScalarAsync<int>($"SELECT attempts FROM {{schema}}.outbox WHERE id = '{bad.Id}'"));
    }
}
