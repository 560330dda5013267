using Confluent.Kafka;

namespace Postbox.Kafka.Consumers;

/// <summary>
/// Options of the Kafka consumer source (<c>UseKafkaConsumers</c>). <see cref="BootstrapServers"/> and
/// <see cref="TopicPrefix"/> start as the publishing transport's (<c>UseKafka</c>). Validated at start-up.
/// </summary>
public sealed class KafkaConsumerOptions
{
    /// <summary>Initial brokers as a comma-separated <c>host:port</c> list. Default: the transport's, else <c>127.0.0.1:9092</c>.</summary>
    public string BootstrapServers { get; set; } = KafkaTransportOptions.DefaultBootstrapServers;

    /// <summary>Client id of the consumers (<c>client.id</c>). Default <c>postbox-consumer</c>.</summary>
    public string ClientId { get; set; } = "postbox-consumer";

    /// <summary>Prefix in front of a handler's topic to form the Kafka topic. Must match the transport's. Default: the transport's, else empty.</summary>
    public string TopicPrefix { get; set; } = string.Empty;

    /// <summary>
    /// Prefix of the consumer group of each handler: the group id is <c>GroupIdPrefix + ConsumerName</c>, unless the
    /// handler sets <c>HandlerOptions.Queue</c>, which is then the group id itself. Each handler has its own group, so
    /// every handler of a topic sees every message; the processes running one handler share its partitions. Default empty.
    /// </summary>
    public string GroupIdPrefix { get; set; } = string.Empty;

    /// <summary>
    /// Where a group with no committed offset starts (<c>auto.offset.reset</c>). Default <see cref="AutoOffsetReset.Earliest"/>,
    /// so messages published before a new group first joined are not skipped.
    /// </summary>
    public AutoOffsetReset AutoOffsetReset { get; set; } = AutoOffsetReset.Earliest;

    /// <summary>
    /// How often handled offsets are committed to the group (they are also committed when partitions are revoked and
    /// on stop). A crash redelivers at most what was handled since the last commit; the inbox recognises it.
    /// Default 1 s; 10 ms to 1 min.
    /// </summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When a rebalance takes partitions away, how long messages of those partitions already being handled may still
    /// finish, so their offsets are committed before the new owner starts (the rebalance waits meanwhile). Messages not
    /// finished by then are dropped here and redelivered to the new owner, where the inbox deduplicates them.
    /// Default 5 s; 0 to 5 min.
    /// </summary>
    public TimeSpan RevokeGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Sets any other librdkafka consumer setting (security, <c>SessionTimeoutMs</c>, <c>PartitionAssignmentStrategy</c>…).
    /// Applied after the options above; the settings the guarantees rest on are applied after it and cannot be changed:
    /// <c>group.id</c>, <c>enable.auto.commit=false</c>, <c>enable.auto.offset.store=false</c>. Default none.
    /// </summary>
    public Action<ConsumerConfig>? ConfigureConsumer { get; set; }
}
