using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Postbox.RabbitMQ;

namespace Postbox.Consumers.Tests.Infrastructure;

/// <summary>
/// Keyed messages with bodies <c>"{key}:{index}"</c>, published in order per key through the real RabbitMQ transport
/// (each key's next message after the previous one's confirm, keys in parallel: what the relay does), and the check
/// of what the handlers committed.
/// </summary>
internal static class KeyedMessages
{
    public static RabbitMQTransport Transport(int partitions) =>
        new(Options.Create(new RabbitMQTransportOptions { ConnectionString = TestEnvironment.RabbitMQUri, Partitions = partitions }),
            NullLogger<RabbitMQTransport>.Instance, TimeProvider.System);

    /// <summary>Publishes <paramref name="perKey"/> messages for each key; returns the ids by body.</summary>
    public static async Task<Dictionary<string, Guid>> PublishAsync(RabbitMQTransport transport, string topic, IReadOnlyList<string> keys, int perKey)
    {
        var ids = new Dictionary<string, Guid>();
        var all = keys.SelectMany(k => Enumerable.Range(0, perKey).Select(i => $"{k}:{i}")).ToList();
        foreach (var body in all)
        {
            ids[body] = Guid.CreateVersion7();
        }

        await Task.WhenAll(keys.Select(async key =>
        {
            for (var i = 0; i < perKey; i++)
            {
                var body = $"{key}:{i}";
                await transport.PublishAsync(new OutboxEnvelope(ids[body], i, topic, key, "WorkItem",
                    JsonSerializer.SerializeToUtf8Bytes(new WorkItem(body), JsonSerializerOptions.Web),
                    new Dictionary<string, string>(), DateTimeOffset.UtcNow, 0, null), CancellationToken.None);
            }
        }));
        return ids;
    }

    /// <summary>Committed effects (body, time of the handler's insert) in the order they were written.</summary>
    public static async Task<List<(string Body, DateTime At)>> EffectsAsync(TestDatabase db)
    {
        await using var command = db.DataSource.CreateCommand($"SELECT body, at FROM \"{db.Schema}\".effects ORDER BY at, body");
        await using var reader = await command.ExecuteReaderAsync();
        var result = new List<(string, DateTime)>();
        while (await reader.ReadAsync())
        {
            result.Add((reader.GetString(0), reader.GetDateTime(1)));
        }

        return result;
    }

    /// <summary>Asserts every key's effects are exactly <paramref name="expected"/>'s indexes, in that order, each once.</summary>
    public static void AssertInOrder(IEnumerable<(string Body, DateTime At)> effects, IReadOnlyDictionary<string, int[]> expected)
    {
        var byKey = effects.GroupBy(e => e.Body.Split(':')[0]).ToDictionary(g => g.Key, g => g.Select(e => int.Parse(e.Body.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        foreach (var (key, indexes) in expected)
        {
            Assert.True(byKey.TryGetValue(key, out var seen), $"key {key}: no effect");
            Assert.True(indexes.SequenceEqual(seen), $"key {key}: expected [{string.Join(',', indexes)}] but the handler committed [{string.Join(',', seen!)}]");
        }

        Assert.Equal(expected.Count, byKey.Count);
    }

    public static Dictionary<string, int[]> All(IEnumerable<string> keys, int perKey) =>
        keys.ToDictionary(k => k, _ => Enumerable.Range(0, perKey).ToArray());

    public static async Task<long> CountAsync(TestDatabase db)
    {
        await using var command = db.DataSource.CreateCommand($"SELECT count(*) FROM \"{db.Schema}\".effects");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Deletes the partition queues of <paramref name="topic"/> after the test.</summary>
    public static void TrackPartitions(TestBroker broker, string topic, int partitions)
    {
        broker.Track(topic);
        for (var n = 0; n < partitions; n++)
        {
            broker.Track($"{topic}.p{n}");
        }
    }

}
