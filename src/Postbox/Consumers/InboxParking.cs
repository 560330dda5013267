namespace Postbox.Consumers;

/// <summary>
/// A keyed message that arrived while an earlier message of its key is unfinished for this consumer (waiting for a
/// retry, or dead under <see cref="Relay.DeadKeyPolicy.Block"/>): it is kept in the inbox, behind that message, and runs
/// after it as attempt 1.
/// </summary>
/// <param name="MessageId">The message id.</param>
/// <param name="Consumer">The consumer name.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Key">The ordering key.</param>
/// <param name="Type">The type name, if any.</param>
/// <param name="Payload">The body, kept to run it later.</param>
/// <param name="Headers">The headers, kept to run it later.</param>
/// <param name="At">When it arrived.</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record InboxParking(
    Guid MessageId,
    string Consumer,
    string Topic,
    string Key,
    string? Type,
    ReadOnlyMemory<byte> Payload,
    IReadOnlyDictionary<string, string> Headers,
    DateTimeOffset At);
