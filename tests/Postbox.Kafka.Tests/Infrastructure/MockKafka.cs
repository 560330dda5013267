using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Postbox.Kafka.Tests.Infrastructure;

/// <summary>
/// librdkafka's built-in mock cluster (<c>test.mock.num.brokers=3</c>): it lives inside the client that creates it, so
/// this process-wide owner keeps it for the whole test run; other clients reach it through the broker list its metadata
/// returns. It is librdkafka's test broker, not Apache Kafka. Each test creates its own topics.
/// </summary>
/// <remarks>
/// The mock cluster answers no CreateTopics request (the admin client waits for a controller it never names), so topics
/// are created through librdkafka's own mock API (<c>rd_kafka_mock_topic_create</c>) on the owning client's handle.
/// </remarks>
public static partial class MockKafka
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

    public static Task CreateTopicAsync(string topic, int partitions)
    {
        var owner = Cluster.Value.Owner;
        // Handle.LibrdkafkaHandle is internal: the test reaches the native rd_kafka_t through it.
        var safeHandle = (SafeHandle)typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(owner.Handle)!;
        var cluster = NativeMethods.rd_kafka_handle_mock_cluster(safeHandle.DangerousGetHandle());
        if (cluster == IntPtr.Zero)
        {
            throw new InvalidOperationException("The owning client has no mock cluster.");
        }

        var error = NativeMethods.rd_kafka_mock_topic_create(cluster, topic, partitions, 3);
        if (error != 0)
        {
            throw new InvalidOperationException($"rd_kafka_mock_topic_create({topic}) failed with {(ErrorCode)error}.");
        }

        return Task.CompletedTask;
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

    private static partial class NativeMethods
    {
        static NativeMethods() =>
            // Confluent.Kafka picks the librdkafka build that loads here (the default one needs libsasl2); bind to that same one.
            NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, (name, _, _) =>
                name == "librdkafka" && File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    .Where(f => f.Length >= 6 && f[5].Contains("librdkafka", StringComparison.Ordinal)).Select(f => f[5]).FirstOrDefault() is { } path
                    ? NativeLibrary.Load(path)
                    : IntPtr.Zero);

        [LibraryImport("librdkafka")]
        public static partial IntPtr rd_kafka_handle_mock_cluster(IntPtr rk);

        [LibraryImport("librdkafka", StringMarshalling = StringMarshalling.Utf8)]
        public static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitions, int replicationFactor);
    }

    private static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
