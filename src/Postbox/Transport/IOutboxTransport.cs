namespace Postbox.Transport;

/// <summary>
/// Publishes outbox messages to a broker. The contract is Kafka-shaped: a destination topic, an optional
/// partitioning/ordering key, string headers and an opaque payload.
/// </summary>
/// <remarks>
/// The relay calls <see cref="PublishAsync"/> many times without awaiting in between (pipelining), so
/// implementations must accept concurrent calls. Messages of the same key are never in flight together.
/// A failure of the transport as a whole (connection lost, broker blocked or gone) must surface as
/// <see cref="TransportUnavailableException"/>: the relay then pauses, charges no attempt and calls
/// <see cref="ProbeAsync"/> until the transport is back. Any other exception is charged to the message.
/// </remarks>
public interface IOutboxTransport
{
    /// <summary>
    /// Publishes one message and completes only once the broker has durably accepted it (publisher
    /// confirm). Throws <see cref="TransportUnavailableException"/> when the transport as a whole cannot publish,
    /// and <see cref="TransportException"/> (or any exception) when the broker refused or could not route this message.
    /// </summary>
    /// <param name="message">The message to publish.</param>
    /// <param name="cancellationToken">Cancels waiting for the confirm (the relay's publish timeout).</param>
    ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken);

    /// <summary>
    /// Makes sure the destinations of <paramref name="topics"/> exist (declares queues, creates topics) before the
    /// relay publishes a batch to them, so that setting up the topology never counts against a message's publish
    /// timeout or attempt. The relay calls it once per batch with the batch's distinct topics, before the batch's
    /// publish timeout starts. Implementations cache what they have done; failures may be swallowed (the publish
    /// reports them for its message). The default does nothing.
    /// </summary>
    /// <param name="topics">Distinct topics about to be published to.</param>
    /// <param name="cancellationToken">Cancels the preparation (relay shutdown).</param>
    ValueTask PrepareAsync(IReadOnlyCollection<string> topics, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Checks that the transport as a whole can publish now (connected, not blocked by the broker), reconnecting if
    /// it has to. Completes when it can; throws <see cref="TransportUnavailableException"/> (or any exception) when it
    /// cannot. The relay calls it about twice a second while the transport is unavailable, and resumes publishing
    /// when it completes. It must be cheap and bounded (at most a connection attempt). The default always completes.
    /// </summary>
    /// <param name="cancellationToken">Bounds the check.</param>
    ValueTask ProbeAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
