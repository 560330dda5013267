namespace Postbox.Consumers;

/// <summary>A failed handling attempt to record.</summary>
/// <param name="MessageId">The message id.</param>
/// <param name="Consumer">The consumer name.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Key">The ordering key, if any.</param>
/// <param name="Type">The type name, if any.</param>
/// <param name="Payload">The body, kept for the retries.</param>
/// <param name="Headers">The headers, kept for the retries.</param>
/// <param name="Attempt">The attempt that failed (1 for the first).</param>
/// <param name="Error">What went wrong (the store bounds its length).</param>
/// <param name="At">When the attempt failed.</param>
/// <param name="NextAttemptAt">When to try again, or <see langword="null"/> to dead-letter the message.</param>
/// <param name="Owner">The retry's lease owner, or <see langword="null"/> for a first delivery from the broker.</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record InboxFailure(
    Guid MessageId,
    string Consumer,
    string Topic,
    string? Key,
    string? Type,
    ReadOnlyMemory<byte> Payload,
    IReadOnlyDictionary<string, string> Headers,
    int Attempt,
    string Error,
    DateTimeOffset At,
    DateTimeOffset? NextAttemptAt,
    string? Owner);
