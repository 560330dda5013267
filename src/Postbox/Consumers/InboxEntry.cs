namespace Postbox.Consumers;

/// <summary>An inbox row as monitoring sees it.</summary>
/// <param name="MessageId">The message id.</param>
/// <param name="Consumer">The consumer name.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Type">The type name, if any.</param>
/// <param name="State">Processed, retrying or dead.</param>
/// <param name="Attempts">Attempts made (since the last replay).</param>
/// <param name="Errors">The error history, oldest first (the last 50).</param>
/// <param name="ReceivedAt">When the first attempt ran.</param>
/// <param name="ProcessedAt">When the handler's transaction committed, if it did.</param>
/// <param name="NextAttemptAt">When the next attempt is due, while retrying.</param>
/// <param name="DeadAt">When it was dead-lettered, while dead.</param>
/// <param name="Replays">How many times it was replayed.</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record InboxEntry(
    Guid MessageId,
    string Consumer,
    string Topic,
    string? Type,
    InboxState State,
    int Attempts,
    IReadOnlyList<InboxError> Errors,
    DateTimeOffset ReceivedAt,
    DateTimeOffset? ProcessedAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeadAt,
    int Replays);
