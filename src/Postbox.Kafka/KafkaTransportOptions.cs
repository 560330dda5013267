using Confluent.Kafka;

namespace Postbox.Kafka;

/// <summary>
/// Options of <see cref="KafkaTransport"/>. Validated when the host starts; every problem is listed.
/// </summary>
public sealed class KafkaTransportOptions
{
    /// <summary>The default <see cref="BootstrapServers"/>: a local broker.</summary>
    public const string DefaultBootstrapServers = "127.0.0.1:9092";

    /// <summary>
    /// Initial brokers as a comma-separated <c>host:port</c> list (librdkafka <c>bootstrap.servers</c>).
    /// Default <c>127.0.0.1:9092</c>.
    /// </summary>
    public string BootstrapServers { get; set; } = DefaultBootstrapServers;

    /// <summary>Client id shown in broker logs and quotas (<c>client.id</c>). Default <c>postbox</c>.</summary>
    public string ClientId { get; set; } = "postbox";

    /// <summary>
    /// Prefix put in front of every message's topic to form the Kafka topic name (e.g. <c>prod.</c>). Default empty.
    /// At most 200 characters of <c>[A-Za-z0-9._-]</c>.
    /// </summary>
    public string TopicPrefix { get; set; } = string.Empty;

    /// <summary>
    /// Whether producing to a topic that does not exist asks the broker to create it (<c>allow.auto.create.topics</c>;
    /// the broker's <c>auto.create.topics.enable</c> must allow it too). Default <see langword="false"/>: create topics
    /// yourself, with the partition count and replication you want; a message to an unknown topic then fails (and is
    /// retried by the relay, since the topic may be created later) without holding up any other message.
    /// </summary>
    public bool AllowAutoCreateTopics { get; set; }

    /// <summary>
    /// How long the producer keeps trying to deliver a message (<c>message.timeout.ms</c>, which includes retries and
    /// waiting for an unknown topic to appear). When it expires because no broker answered, the publish fails with
    /// <see cref="Transport.TransportUnavailableException"/>. Keep it below the relay's <c>PublishTimeout</c> (30 s by
    /// default) so the relay learns why. Default 20 s; 1 s to 5 min.
    /// </summary>
    public TimeSpan MessageTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long the producer waits to fill a batch before sending it (<c>linger.ms</c>): the relay pipelines many publishes,
    /// so a few milliseconds buy large batches. Default 5 ms; 0 to 1 s.
    /// </summary>
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Largest message the producer sends (<c>message.max.bytes</c>, key, headers and payload together). A larger
    /// message fails at once and is not retried (the broker's own <c>message.max.bytes</c> applies too: a message it
    /// refuses as too large is not retried either). Default 1,000,000; 1,000 to 1,000,000,000.
    /// </summary>
    public int MaxMessageBytes { get; set; } = 1_000_000;

    /// <summary>Compression of produced batches (<c>compression.type</c>). Default <see cref="CompressionType.None"/>.</summary>
    public CompressionType CompressionType { get; set; } = CompressionType.None;

    /// <summary>
    /// While no broker can be reached, publishes fail at once with <see cref="Transport.TransportUnavailableException"/>,
    /// except one publish per interval that goes through as a probe; the first delivered message ends the outage.
    /// Default 2 s; 100 ms to 5 min.
    /// </summary>
    public TimeSpan UnavailableProbeInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Sets any other librdkafka producer setting (security: <c>SecurityProtocol</c>, <c>SaslMechanism</c>,
    /// <c>SaslUsername</c>, <c>SaslPassword</c>, <c>SslCaLocation</c>…). It runs after the options above are applied, but
    /// the settings the delivery guarantee rests on are applied after it and cannot be changed: <c>enable.idempotence=true</c>,
    /// <c>acks=all</c>, delivery reports on. Default none.
    /// </summary>
    public Action<ProducerConfig>? ConfigureProducer { get; set; }
}
