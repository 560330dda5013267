namespace Postbox.RabbitMQ;

/// <summary>
/// Options of <see cref="RabbitMQTransport"/>. Validated when the host starts; every problem is listed.
/// </summary>
public sealed class RabbitMQTransportOptions
{
    /// <summary>The default <see cref="ConnectionString"/>: the local broker with the guest account.</summary>
    public const string DefaultConnectionString = "amqp://guest:guest@127.0.0.1:5672/";

    /// <summary>
    /// The broker as an <c>amqp://</c> or <c>amqps://</c> URI (user, password, host, port, virtual host).
    /// Default <c>amqp://guest:guest@127.0.0.1:5672/</c>.
    /// </summary>
    public string ConnectionString { get; set; } = DefaultConnectionString;

    /// <summary>Name of the connection shown in the RabbitMQ management UI. Default <c>postbox</c>.</summary>
    public string ClientProvidedName { get; set; } = "postbox";

    /// <summary>
    /// The durable topic exchange Postbox declares and publishes to; a message's topic is its routing key.
    /// Default <c>postbox</c>. Must not be blank, must not start with the reserved <c>amq.</c> prefix, at most 255 bytes.
    /// </summary>
    public string ExchangeName { get; set; } = "postbox";

    /// <summary>
    /// When <see langword="true"/> (the default), the first publish to a topic declares a durable queue named
    /// <see cref="QueuePrefix"/> + topic bound to the exchange with the topic as binding key, so no message is
    /// unroutable. When <see langword="false"/>, only the exchange is declared: bind queues yourself; a message
    /// to a topic nothing is bound to fails (it is published <c>mandatory</c>) and is retried by the relay.
    /// </summary>
    public bool DeclareQueues { get; set; } = true;

    /// <summary>Prefix of the queues declared when <see cref="DeclareQueues"/> is set. Default empty.</summary>
    public string QueuePrefix { get; set; } = string.Empty;

    /// <summary>
    /// Type of the queues declared when <see cref="DeclareQueues"/> is set, sent as <c>x-queue-type</c>:
    /// <c>classic</c> (the default) or <c>quorum</c> (replicated; recommended on a cluster).
    /// </summary>
    public string QueueType { get; set; } = "classic";

    /// <summary>
    /// Partitions of every topic, for per-key order across worker processes (see <c>docs/ordering.md</c>). 0 (the
    /// default): a topic has one queue that all consumers share. N ≥ 1: a keyed message goes to routing key
    /// <c>{topic}.p{n}</c>, n = a stable hash of its key modulo N, whose durable queue <c>QueuePrefix + topic + ".p" + n</c>
    /// is declared with <c>x-single-active-consumer</c>, so a key's messages reach one worker at a time, in order; keyless
    /// messages keep the topic's queue. The consumers (<c>UseRabbitMQConsumers</c>) must use the same value — they start
    /// from these options. Routing keys <c>{topic}.p{n}</c> are then reserved. Change N only after draining the topic's
    /// queues: keys move between partitions. 0 to 1,000.
    /// </summary>
    public int Partitions { get; set; }

    /// <summary>
    /// Per-topic overrides of <see cref="Partitions"/> (topic → N, 0 turns partitioning off for that topic). Default empty.
    /// </summary>
    public IDictionary<string, int> TopicPartitions { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>
    /// Number of AMQP channels publishes are spread over (round robin). Each channel pipelines many
    /// unconfirmed publishes. Default 2; 1 to 64.
    /// </summary>
    public int PublishChannels { get; set; } = 2;

    /// <summary>
    /// Largest number of unconfirmed publishes per channel; further publishes wait (honouring their
    /// cancellation token) until confirms arrive. Bounds memory when the broker is slow; the default is above what the
    /// relay keeps in flight by default (BatchSize × MaxInFlightBatches), so it only binds when those are raised.
    /// Default 5,000; 1 to 100,000.
    /// </summary>
    public int MaxOutstandingConfirms { get; set; } = 5000;

    /// <summary>
    /// Time allowed to open a connection, and for protocol operations such as declaring a queue.
    /// Default 5 s; 100 ms to 5 min.
    /// </summary>
    public TimeSpan ConnectionTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Pause after a failed connection attempt before the next one, during which publishes fail at once
    /// (transient); also the interval of the client's automatic connection recovery. Default 2 s; 100 ms to 5 min.
    /// </summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(2);
}
