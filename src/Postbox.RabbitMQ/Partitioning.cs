using System.Globalization;
using Postbox.Transport;

namespace Postbox.RabbitMQ;

/// <summary>
/// Where keyed messages of a partitioned topic go (<see cref="RabbitMQTransportOptions.Partitions"/>): routing key
/// <c>{topic}.p{n}</c> with n = <see cref="KeyPartitioner.PartitionOf"/>(key, N), into a durable queue
/// <c>{queue}.p{n}</c> declared with <c>x-single-active-consumer</c>, so one consumer at a time takes a partition in order
/// and another takes over when it goes away. Keyless messages keep the topic's own queue (routing key = topic), which
/// every worker consumes in parallel. The publishing transport and the consumers must use the same N.
/// </summary>
internal static class Partitioning
{
    private const string Suffix = ".p";

    /// <summary>N for <paramref name="topic"/>: its entry in <paramref name="perTopic"/>, else <paramref name="global"/>; 0 = not partitioned.</summary>
    public static int CountFor(string topic, int global, IDictionary<string, int>? perTopic) =>
        perTopic is not null && perTopic.TryGetValue(topic, out var n) ? n : global;

    /// <summary>The routing key of a message: its partition's for a keyed message of a partitioned topic, else the topic.</summary>
    public static string RoutingKey(RabbitMQTransportOptions options, string topic, string? key)
    {
        var partitions = CountFor(topic, options.Partitions, options.TopicPartitions);
        return key is null || partitions == 0 ? topic : PartitionName(topic, KeyPartitioner.PartitionOf(key, partitions));
    }

    /// <summary><c>{name}.p{partition}</c>: the routing key of a partition (name = topic) or its queue (name = the topic's queue).</summary>
    public static string PartitionName(string name, int partition) => name + Suffix + partition.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Arguments of the queue bound to <paramref name="routingKey"/>: a partition's queue is single-active-consumer. Both
    /// sides declare with these, since RabbitMQ refuses a redeclaration with other arguments.
    /// </summary>
    public static Dictionary<string, object?> QueueArguments(RabbitMQTransportOptions options, string routingKey, string queueType) =>
        QueueArguments(queueType, IsPartition(routingKey, options.Partitions, options.TopicPartitions));

    public static Dictionary<string, object?> QueueArguments(string queueType, bool partition)
    {
        var arguments = new Dictionary<string, object?> { ["x-queue-type"] = queueType };
        if (partition)
        {
            arguments["x-single-active-consumer"] = true;
        }

        return arguments;
    }

    /// <summary>Whether <paramref name="routingKey"/> is <c>{topic}.p{n}</c> of a topic with more than n partitions.</summary>
    public static bool IsPartition(string routingKey, int global, IDictionary<string, int>? perTopic)
    {
        var at = routingKey.LastIndexOf(Suffix, StringComparison.Ordinal);
        return at > 0
            && int.TryParse(routingKey.AsSpan(at + Suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            && partition < CountFor(routingKey[..at], global, perTopic);
    }
}
