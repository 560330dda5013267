using System.Globalization;
using System.Text;
using Microsoft.Extensions.Hosting;
using Postbox.Kafka.Tests.Infrastructure;

namespace Postbox.Kafka.Tests;

/// <summary>The real relay draining a real PostgreSQL outbox into librdkafka's mock cluster (not Apache Kafka).</summary>
public sealed class RelayToKafkaTests : IAsyncLifetime
{
    private readonly TestDatabase _db = new();

    public Task InitializeAsync() => _db.InitializeAsync();

    public Task DisposeAsync() => _db.DisposeAsync();

    private async Task EnqueueAsync(string topic, int count, Func<int, string?>? key = null)
    {
        for (var start = 0; start < count; start += 5_000)
        {
            await _db.EnqueueAsync([.. Enumerable.Range(start, Math.Min(5_000, count - start)).Select(i =>
                new OutboxMessage(topic, Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture))) { Key = key?.Invoke(i), Type = "Test" })]);
        }
    }

    [Fact]
    public async Task Relay_Delivers20000Messages_EveryIdArrivesExactlyOnce()
    {
        var topic = MockKafka.NewTopic("drain");
        await MockKafka.CreateTopicAsync(topic, 6);
        await EnqueueAsync(topic, 20_000);
        using var relay = Hosts.Relay(_db);

        await relay.StartAsync();
        await Eventually.HoldsAsync(async () => await _db.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 20_000,
            TimeSpan.FromMinutes(3), "every message is marked delivered");
        await relay.StopAsync();

        var records = MockKafka.ReadAll(topic, 20_001, TimeSpan.FromSeconds(20)); // one more than expected: a duplicate would show
        var ids = records.Select(r => Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes("postbox-message-id"))).ToList();
        Assert.Equal(20_000, ids.Count);
        Assert.Equal(20_000, ids.Distinct().Count());
        var expected = await _db.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE id::text = ANY(ARRAY['" + string.Join("','", ids) + "'])");
        Assert.Equal(20_000, expected);
        Assert.True(records.Select(r => r.Partition.Value).Distinct().Count() > 1, "keyless messages should spread over partitions");
    }

    [Fact]
    public async Task PerKeyOrder_60KeysOver8Partitions_EachKeyInOnePartitionInEnqueueOrder()
    {
        var topic = MockKafka.NewTopic("order");
        await MockKafka.CreateTopicAsync(topic, 8);
        // Keys interleaved: message i belongs to key i % 60 and is number i / 60 of its key.
        await EnqueueAsync(topic, 6_000, i => "key-" + (i % 60).ToString(CultureInfo.InvariantCulture));
        using var relay = Hosts.Relay(_db);

        await relay.StartAsync();
        await Eventually.HoldsAsync(async () => await _db.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 6_000,
            TimeSpan.FromMinutes(2), "every message is marked delivered");
        await relay.StopAsync();

        var records = MockKafka.ReadAll(topic, 6_000, TimeSpan.FromSeconds(20));
        Assert.Equal(6_000, records.Count);
        var byKey = records.GroupBy(r => r.Message.Key!).ToList();
        Assert.Equal(60, byKey.Count);
        foreach (var key in byKey)
        {
            Assert.Single(key.Select(r => r.Partition.Value).Distinct());
            // Records of one partition are read in offset order, so this is the order Kafka stored them in.
            var sequence = key.Select(r => int.Parse(Encoding.UTF8.GetString(r.Message.Value), CultureInfo.InvariantCulture)).ToList();
            Assert.True(sequence.SequenceEqual(sequence.Order()), $"{key.Key} out of order: {string.Join(",", sequence.Take(20))}...");
        }

        Assert.True(byKey.Select(k => k.First().Partition.Value).Distinct().Count() >= 4, "keys should spread over the partitions");
    }

    [Fact]
    public async Task UnknownTopic_FailsOnlyItsMessage_TheOthersAreDelivered()
    {
        var topic = MockKafka.NewTopic("known");
        await MockKafka.CreateTopicAsync(topic, 2);
        var unknown = MockKafka.NewTopic("unknown");
        await EnqueueAsync(topic, 100);
        await _db.EnqueueAsync([new OutboxMessage(unknown, "x"u8.ToArray()) { Type = "Test" }]);
        await EnqueueAsync(topic, 100);
        using var relay = Hosts.Relay(_db, o => o.MessageTimeout = TimeSpan.FromSeconds(3));

        await relay.StartAsync();
        await Eventually.HoldsAsync(async () => await _db.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 200,
            TimeSpan.FromMinutes(1), "the known topic's messages are delivered");
        await Eventually.HoldsAsync(async () => await _db.ScalarAsync<int>($"SELECT attempts FROM {{schema}}.outbox WHERE topic = '{unknown}'") >= 1,
            TimeSpan.FromMinutes(1), "the unknown topic's message has failed an attempt");
        await relay.StopAsync();

        var error = await _db.ScalarAsync<string>($"SELECT last_error FROM {{schema}}.outbox WHERE topic = '{unknown}'");
        Assert.Contains("Unknown", error, StringComparison.OrdinalIgnoreCase);
        Assert.NotEqual(1, await _db.ScalarAsync<short>($"SELECT state FROM {{schema}}.outbox WHERE topic = '{unknown}'"));
        Assert.Equal(200, MockKafka.ReadAll(topic, 200, TimeSpan.FromSeconds(20)).Count);
    }
}
