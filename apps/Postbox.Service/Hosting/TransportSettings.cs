namespace Postbox.Service.Hosting;

/// <summary>How messages travel from the relay to the workers (configuration section <c>Transport</c>).</summary>
internal sealed class TransportSettings
{
    /// <summary><c>InMemory</c> (default: in-process, only with <c>all</c>) or <c>RabbitMQ</c>.</summary>
    public TransportProvider Provider { get; set; } = TransportProvider.InMemory;

    /// <summary>The broker URI. Default <c>amqp://guest:guest@127.0.0.1:5672/</c>.</summary>
    public string RabbitMQ { get; set; } = "amqp://guest:guest@127.0.0.1:5672/";

    /// <summary>The durable topic exchange. Default <c>postbox</c>.</summary>
    public string Exchange { get; set; } = "postbox";

    /// <summary>Prefix of the queue names (<c>prefix + topic</c>). Default empty.</summary>
    public string QueuePrefix { get; set; } = string.Empty;
}

/// <summary>The transports the service runs on.</summary>
internal enum TransportProvider
{
    InMemory,
    RabbitMQ,
}
