namespace Postbox;

/// <summary>
/// A stored outbox message as the relay sees it after claiming it: the message itself plus its
/// bookkeeping. This is what a transport publishes.
/// </summary>
/// <param name="Id">Message id (broker message id, dedupe key).</param>
/// <param name="Sequence">Enqueue order assigned by the store; orders messages of one key.</param>
/// <param name="Topic">Destination.</param>
/// <param name="Key">Ordering key, if any.</param>
/// <param name="Type">Message type name, if any.</param>
/// <param name="Payload">Body.</param>
/// <param name="Headers">String headers.</param>
/// <param name="CreatedAt">When the message was enqueued.</param>
/// <param name="Attempts">Publish attempts made before this one.</param>
/// <param name="MaxAttempts">Per-message attempt limit, if set.</param>
public sealed record OutboxEnvelope(
    Guid Id,
    long Sequence,
    string Topic,
    string? Key,
    string? Type,
    ReadOnlyMemory<byte> Payload,
    IReadOnlyDictionary<string, string> Headers,
    DateTimeOffset CreatedAt,
    int Attempts,
    int? MaxAttempts);
