namespace Postbox.Service.Hosting;

/// <summary>How messages travel from the relay to the workers (configuration section <c>Transport</c>).</summary>
internal sealed class TransportSettings
{
    /// <summary><c>InMemory</c> (default: in-process, only with <c>all</c>), <c>RabbitMQ</c> or <c>Kafka</c>.</summary>
    public TransportProvider Provider { get; set; } = TransportProvider.InMemory;

    /// <summary>The broker URI. Default <c>amqp://guest:guest@127.0.0.1:5672/</c>.</summary>
    public string RabbitMQ { get; set; } = "amqp://guest:guest@127.0.0.1:5672/";

    /// <summary>The durable topic exchange. Default <c>postbox</c>.</summary>
    public string Exchange { get; set; } = "postbox";

    /// <summary>Prefix of the queue names (<c>prefix + topic</c>). Default empty.</summary>
    public string QueuePrefix { get; set; } = string.Empty;

    /// <summary>Kafka bootstrap servers (<c>host:port,...</c>) when <see cref="Provider"/> is <c>Kafka</c>. Default <c>127.0.0.1:9092</c>.</summary>
    public string Kafka { get; set; } = "127.0.0.1:9092";

    /// <summary>
    /// Whether the service's Kafka producer and consumers may have the broker create the topics they use (the broker's
    /// <c>auto.create.topics.enable</c> must allow it too). Default <see langword="true"/>, so the service runs against a fresh
    /// broker; set <see langword="false"/> where topics are created by their owners.
    /// </summary>
    public bool KafkaAutoCreateTopics { get; set; } = true;
}

/// <summary>The transports the service runs on.</summary>
internal enum TransportProvider
{
    InMemory,
    RabbitMQ,
    Kafka,
}
