using System.Globalization;
using System.Text;
using RabbitMQ.Client;

namespace Postbox.RabbitMQ.Messages;

/// <summary>Maps an <see cref="OutboxEnvelope"/> to AMQP basic properties.</summary>
internal static class AmqpMessage
{
    /// <summary>Header carrying the ordering key (AMQP has no key of its own; Kafka would use the record key).</summary>
    public const string KeyHeader = "postbox-key";

    /// <summary>Header carrying the publish attempt, 1 for the first.</summary>
    public const string AttemptHeader = "postbox-attempt";

    /// <summary>Value of the AMQP <c>app-id</c> property.</summary>
    public const string AppId = "postbox";

    public static BasicProperties CreateProperties(OutboxEnvelope message, string messageId)
    {
        // Header values are strings (AMQP long strings), like Kafka headers, so consumers read all of them the same way.
        var headers = new Dictionary<string, object?>(message.Headers.Count + 3, StringComparer.Ordinal);
        foreach (var (name, value) in message.Headers)
        {
            headers[name] = value;
        }

        if (message.Key is not null)
        {
            headers[KeyHeader] = message.Key;
        }

        headers[AttemptHeader] = (message.Attempts + 1).ToString(CultureInfo.InvariantCulture);
        return new BasicProperties
        {
            MessageId = messageId,
            Type = message.Type,
            Timestamp = new AmqpTimestamp(message.CreatedAt.ToUnixTimeSeconds()),
            ContentType = message.Headers.TryGetValue(OutboxHeaders.ContentType, out var contentType) ? contentType : null,
            AppId = AppId,
            DeliveryMode = DeliveryModes.Persistent,
            Headers = headers,
        };
    }

    /// <summary>
    /// RabbitMQ.Client adds a header of its own to every publish on a channel with confirm tracking, to correlate a
    /// <c>basic.return</c> with its publish: <c>x-dotnet-pub-seq-no</c> as a 64-bit integer (1 + 19 + 1 + 8 bytes).
    /// Rounded up, so a message that passes the check always fits.
    /// </summary>
    private const int ClientHeaderBytes = 32;

    /// <summary>
    /// Size in bytes of the content header frame that carries <paramref name="properties"/> (AMQP 0-9-1 §4.2.6):
    /// 7 bytes of frame header, class id, weight, body size and property flags (14), the properties the transport
    /// sets, and the frame end octet. RabbitMQ refuses a frame larger than the negotiated <c>frame_max</c> by closing
    /// the connection, and a content header cannot be split over frames.
    /// </summary>
    public static long ContentHeaderFrameSize(BasicProperties properties)
    {
        long size = 7 + 14 + 1;
        size += ClientHeaderBytes;
        size += ShortString(properties.ContentType);
        size += ShortString(properties.ContentEncoding);
        if (properties.Headers is { } headers)
        {
            size += 4; // table length
            foreach (var (name, value) in headers)
            {
                size += 1 + Utf8(name) + 1 + value switch
                {
                    string text => 4 + Utf8(text),
                    byte[] bytes => 4 + bytes.Length,
                    // Postbox only writes strings; anything else is bounded generously (a long or a decimal).
                    _ => 9,
                };
            }
        }

        size += properties.IsDeliveryModePresent() ? 1 : 0;
        size += properties.IsPriorityPresent() ? 1 : 0;
        size += ShortString(properties.CorrelationId);
        size += ShortString(properties.ReplyTo);
        size += ShortString(properties.Expiration);
        size += ShortString(properties.MessageId);
        size += properties.IsTimestampPresent() ? 8 : 0;
        size += ShortString(properties.Type);
        size += ShortString(properties.UserId);
        size += ShortString(properties.AppId);
        size += ShortString(properties.ClusterId);
        return size;
    }

    /// <summary>The first property or header name that exceeds an AMQP short string (255 bytes), or <see langword="null"/>.</summary>
    public static string? FirstOversizedShortString(BasicProperties properties)
    {
        if (Utf8(properties.Type) > 255)
        {
            return "type";
        }

        if (Utf8(properties.ContentType) > 255)
        {
            return "content type";
        }

        if (properties.Headers is { } headers)
        {
            foreach (var name in headers.Keys)
            {
                if (Utf8(name) > 255)
                {
                    return $"header name '{name[..Math.Min(name.Length, 40)]}…'";
                }
            }
        }

        return null;
    }

    private static long ShortString(string? value) => value is null ? 0 : 1 + Utf8(value);

    private static int Utf8(string? value) => value is null ? 0 : Encoding.UTF8.GetByteCount(value);
}
