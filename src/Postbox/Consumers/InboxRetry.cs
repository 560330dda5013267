namespace Postbox.Consumers;

/// <summary>A due retry claimed from the inbox.</summary>
/// <param name="MessageId">The message id.</param>
/// <param name="Consumer">The consumer name.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Key">The ordering key, if any.</param>
/// <param name="Type">The type name, if any.</param>
/// <param name="Payload">The body.</param>
/// <param name="Headers">The headers.</param>
/// <param name="Attempts">Attempts made so far (since the last replay).</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record InboxRetry(
    Guid MessageId,
    string Consumer,
    string Topic,
    string? Key,
    string? Type,
    ReadOnlyMemory<byte> Payload,
    IReadOnlyDictionary<string, string> Headers,
    int Attempts);
