using System.Text.Json;

namespace Postbox;

/// <summary>
/// A message to be written to the outbox inside the caller's database transaction and later published
/// by the relay. The shape is deliberately Kafka-like (topic, key, headers, payload) so that every
/// transport can carry it without loss.
/// </summary>
public sealed class OutboxMessage
{
    /// <summary>Creates a message for <paramref name="topic"/> carrying <paramref name="payload"/>.</summary>
    /// <param name="topic">The destination (a routing key on RabbitMQ, a topic on Kafka). Required.</param>
    /// <param name="payload">The message body, opaque to Postbox.</param>
    public OutboxMessage(string topic, ReadOnlyMemory<byte> payload)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        Topic = topic;
        Payload = payload;
    }

    /// <summary>
    /// The message identity: the broker message id and the consumers' deduplication key.
    /// Defaults to a new UUIDv7, which keeps the outbox primary key append-friendly.
    /// </summary>
    public Guid Id { get; init; } = Guid.CreateVersion7();

    /// <summary>The destination the relay publishes to.</summary>
    public string Topic { get; }

    /// <summary>
    /// Optional ordering key. Messages with the same key are published in enqueue order; messages with
    /// different keys (or no key) are published in parallel. See <c>docs/ordering.md</c>.
    /// </summary>
    public string? Key { get; init; }

    /// <summary>Optional message type name, carried to the consumer (AMQP <c>type</c> property).</summary>
    public string? Type { get; init; }

    /// <summary>The body, opaque to Postbox.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>
    /// String headers carried with the message. The W3C <c>traceparent</c> (and <c>tracestate</c>) of the
    /// current activity are added at enqueue time when not already present.
    /// </summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Earliest time the relay may publish the message; <see langword="null"/> (or any time not after the enqueue
    /// time) means at once. Any offset is accepted and kept as the same instant in UTC, truncated to whole
    /// microseconds (what PostgreSQL and MySQL hold), so every store keeps the same value. A <see cref="DateTime"/>
    /// converts by .NET's rule: <see cref="DateTimeKind.Utc"/> as is, <see cref="DateTimeKind.Local"/> and
    /// <see cref="DateTimeKind.Unspecified"/> as the host's local time — pass a <see cref="DateTimeOffset"/> or a UTC
    /// <see cref="DateTime"/>. Enqueue refuses times from 9999-12-31T00:00Z on (a message that would never be published).
    /// </summary>
    public DateTimeOffset? AvailableAt
    {
        get => _availableAt;
        init => _availableAt = value is { } at ? ToStoredTime(at) : null;
    }

    private readonly DateTimeOffset? _availableAt;

    /// <summary>
    /// Maximum publish attempts for this message before it is marked dead; <see langword="null"/> uses the
    /// relay's retry policy.
    /// </summary>
    public int? MaxAttempts { get; init; }

    // Npgsql refuses a DateTimeOffset with a non-zero offset for timestamptz, MySQL's DATETIME keeps no offset at all,
    // and the stores differ below a microsecond: one UTC, microsecond value for all of them.
    private static DateTimeOffset ToStoredTime(DateTimeOffset value)
    {
        var ticks = value.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % TimeSpan.TicksPerMicrosecond), TimeSpan.Zero);
    }

    /// <summary>
    /// Creates a message whose payload is <paramref name="value"/> serialized as UTF-8 JSON, with
    /// <see cref="Type"/> set to the CLR type name unless <paramref name="type"/> is given, and a <c>content-type</c>
    /// header of <c>application/json</c>.
    /// </summary>
    /// <typeparam name="T">The payload type.</typeparam>
    /// <param name="topic">The destination.</param>
    /// <param name="value">The value to serialize.</param>
    /// <param name="options">Serializer options; <see cref="JsonSerializerOptions.Web"/> when omitted.</param>
    /// <param name="key">Optional ordering key.</param>
    /// <param name="type">Optional type name.</param>
    /// <param name="maxAttempts">Optional <see cref="MaxAttempts"/>: publish attempts before the message is dead.</param>
    /// <param name="availableAt">Optional <see cref="AvailableAt"/>: not published before this time.</param>
    public static OutboxMessage FromJson<T>(string topic, T value, JsonSerializerOptions? options = null, string? key = null, string? type = null,
        int? maxAttempts = null, DateTimeOffset? availableAt = null)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(value, options ?? JsonSerializerOptions.Web);
        var message = new OutboxMessage(topic, bytes) { Key = key, Type = type ?? typeof(T).Name, MaxAttempts = maxAttempts, AvailableAt = availableAt };
        message.Headers[OutboxHeaders.ContentType] = "application/json";
        return message;
    }
}
