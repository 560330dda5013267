using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Postbox.Kafka.Tests.Infrastructure;

/// <summary>
/// librdkafka's built-in mock cluster (<c>test.mock.num.brokers=3</c>): it lives inside the client that creates it, so
/// this process-wide owner keeps it for the whole test run; other clients reach it through the broker list its metadata
/// returns. It is librdkafka's test broker, not Apache Kafka. Each test creates its own topics.
/// </summary>
public static class MockKafka
{
    private static readonly Lazy<(IProducer<Null, Null> Owner, string Bootstrap)> Cluster = new(Create);

    public static string BootstrapServers => Cluster.Value.Bootstrap;

    private static (IProducer<Null, Null>, string) Create()
    {
        var owner = new ProducerBuilder<Null, Null>(new ProducerConfig { BootstrapServers = "placeholder:9092" }
            .Also(c => c.Set("test.mock.num.brokers", "3"))).Build();
        using var admin = new DependentAdminClientBuilder(owner.Handle).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        var bootstrap = string.Join(',', metadata.Brokers.Select(b => $"{b.Host}:{b.Port}"));
        return (owner, bootstrap);
    }

    public static string NewTopic(string name) => $"test.{name}.{Guid.NewGuid():N}";

    public static async Task CreateTopicAsync(string topic, int partitions)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = 3 }]);
    }

    /// <summary>Committed offsets of <paramref name="groupId"/> per partition (-1001 when none), read without joining the group.</summary>
    public static async Task<Dictionary<int, long>> CommittedAsync(string groupId, string topic, int partitions)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        var result = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(groupId,
            [.. Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p))])]);
        return result[0].Partitions.ToDictionary(p => p.Partition.Value, p => p.Offset.Value);
    }

    /// <summary>Reads <paramref name="count"/> records of <paramref name="topic"/> from the start, with a group of its own.</summary>
    public static List<ConsumeResult<string?, byte[]>> ReadAll(string topic, int count, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var records = new List<ConsumeResult<string?, byte[]>>();
        using var cts = new CancellationTokenSource(timeout);
        while (records.Count < count && !cts.IsCancellationRequested)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: not null } result)
            {
                records.Add(result);
            }
        }

        consumer.Close();
        return records;
    }

    private static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
