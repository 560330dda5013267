namespace Postbox.Transport;

/// <summary>
/// Publishes outbox messages to a broker. The contract is Kafka-shaped: a destination topic, an optional
/// partitioning/ordering key, string headers and an opaque payload.
/// </summary>
/// <remarks>
/// The relay calls <see cref="PublishAsync"/> many times without awaiting in between (pipelining), so
/// implementations must accept concurrent calls. Messages of the same key are never in flight together.
/// </remarks>
public interface IOutboxTransport
{
    /// <summary>
    /// Publishes one message and completes only once the broker has durably accepted it (publisher
    /// confirm). Throws <see cref="TransportException"/> (or any exception) when the broker refused it,
    /// could not route it, or could not be reached.
    /// </summary>
    /// <param name="message">The message to publish.</param>
    /// <param name="cancellationToken">Cancels waiting for the confirm (the relay's publish timeout).</param>
    ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken);
}
