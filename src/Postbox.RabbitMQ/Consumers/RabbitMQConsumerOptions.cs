namespace Postbox.RabbitMQ.Consumers;

/// <summary>
/// Options of the RabbitMQ consumer source. The exchange, queue prefix and queue type must match the publishing
/// transport's (<c>RabbitMQTransportOptions</c>) so both declare the same topology. Validated at start-up.
/// </summary>
public sealed class RabbitMQConsumerOptions
{
    /// <summary>The broker as an <c>amqp://</c> or <c>amqps://</c> URI. Default <c>amqp://guest:guest@127.0.0.1:5672/</c>.</summary>
    public string ConnectionString { get; set; } = "amqp://guest:guest@127.0.0.1:5672/";

    /// <summary>Name of the consumer connection in the management UI. Default <c>postbox-consumer</c>.</summary>
    public string ClientProvidedName { get; set; } = "postbox-consumer";

    /// <summary>The durable topic exchange the queues are bound to. Default <c>postbox</c>.</summary>
    public string ExchangeName { get; set; } = "postbox";

    /// <summary>Prefix of the queue of each topic (<c>QueuePrefix + topic</c>). Default empty.</summary>
    public string QueuePrefix { get; set; } = string.Empty;

    /// <summary>
    /// <c>x-queue-type</c> of the queues declared: <c>classic</c> (default) or <c>quorum</c>. Must match the transport's:
    /// RabbitMQ refuses to redeclare a queue with other arguments.
    /// </summary>
    public string QueueType { get; set; } = "classic";

    /// <summary>
    /// Partitions of every topic (see <c>RabbitMQTransportOptions.Partitions</c>; must match the transport's, and starts
    /// as it). N ≥ 1: each handler also consumes the N partition queues <c>{queue}.p0</c> … <c>{queue}.p{N-1}</c>, declared
    /// with <c>x-single-active-consumer</c> and bound to routing keys <c>{topic}.p{n}</c>; RabbitMQ delivers each partition
    /// to one worker at a time and moves it to a waiting worker when that one goes away. 0 (default): one shared queue.
    /// 0 to 1,000.
    /// </summary>
    public int Partitions { get; set; }

    /// <summary>Per-topic overrides of <see cref="Partitions"/> (topic → N). Starts as the transport's.</summary>
    public IDictionary<string, int> TopicPartitions { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>
    /// How often (jittered by ±25 %) each worker checks whether it is the active consumer of more than its share of a
    /// partitioned topic's partitions — ⌈partitions / workers⌉, workers being the partition queues' consumer count — and
    /// if so hands one over: no new delivery of it starts, those being handled finish and are acknowledged, then its
    /// channel closes (the broker requeues the rest in place and activates the next worker) and the worker registers
    /// again behind the others. Needed because RabbitMQ 3.x makes the first worker registered active on every partition.
    /// Default 5 s; 100 ms to 10 min, or <see cref="TimeSpan.Zero"/> to never hand over (the first worker keeps them all).
    /// The same loop registers again, at the next interval (every <see cref="ReconnectDelay"/> when hand-overs are off),
    /// consumers that could not be registered on a resume while the broker was down.
    /// </summary>
    public TimeSpan RebalanceInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time allowed to open the connection and for protocol operations. Default 5 s; 100 ms to 5 min.</summary>
    public TimeSpan ConnectionTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Interval of the client's automatic connection recovery after a broker restart. Default 2 s; 100 ms to 5 min.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(2);
}
