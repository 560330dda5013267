using System.Text;

namespace Postbox.Producer;

/// <summary>
/// The limits a broker enforces on the envelope of a message (not its body), checked at enqueue so that a message
/// no broker would carry is refused in the caller's code instead of failing — or breaking the publisher's connection
/// for every other message — later. Sized for RabbitMQ's defaults, the strictest supported broker: AMQP short
/// strings (routing key, type, content type, header names) hold 255 bytes, and the properties and headers of a
/// message travel in one frame of at most <c>frame_max</c> (131,072 bytes by default); a larger header frame makes
/// the broker close the whole connection (<c>501 FRAME_ERROR</c>). Kafka's limits (1 MB per record) are wider.
/// </summary>
/// <remarks>Kept apart from <see cref="MessageValidator"/>, which checks what the stores can hold.</remarks>
internal static class MessageLimits
{
    /// <summary>Largest UTF-8 size of the topic, the type, a header name and the <c>content-type</c> header (AMQP short string).</summary>
    public const int MaxShortStringBytes = 255;

    /// <summary>
    /// Largest encoded size of all headers together: 124 KiB, which leaves 4 KiB of RabbitMQ's default 128 KiB frame
    /// for the properties and headers the relay adds (message id, type, timestamp, ordering key, attempt, trace context).
    /// </summary>
    public const int MaxHeaderBytes = 124 * 1024;

    /// <summary>Encoded size of one header beyond its name and value: name length (1), value type (1), value length (4).</summary>
    public const int HeaderOverheadBytes = 6;

    /// <summary>The encoded size of <paramref name="headers"/> as counted against <see cref="MaxHeaderBytes"/>.</summary>
    public static long HeaderBytes(IEnumerable<KeyValuePair<string, string>> headers)
    {
        long total = 0;
        foreach (var (name, value) in headers)
        {
            total += HeaderOverheadBytes + Encoding.UTF8.GetByteCount(name ?? string.Empty) + Encoding.UTF8.GetByteCount(value ?? string.Empty);
        }

        return total;
    }

    /// <summary>Throws when <paramref name="message"/> exceeds a broker limit.</summary>
    /// <param name="message">The message.</param>
    /// <param name="index">Its position in the enqueue call, for the error text.</param>
    /// <exception cref="ArgumentException">A limit is exceeded; the text names the message and the field.</exception>
    public static void Check(OutboxMessage message, int index)
    {
        string Where(string field) => $"Message #{index} ({message.Id}): {field}";

        CheckShortString(message.Topic, "Topic");
        CheckShortString(message.Type, "Type");
        foreach (var (name, value) in message.Headers)
        {
            CheckShortString(name, $"Header name '{Shorten(name)}'");
            if (string.Equals(name, OutboxHeaders.ContentType, StringComparison.Ordinal))
            {
                CheckShortString(value, $"Header '{OutboxHeaders.ContentType}'");
            }
        }

        var headerBytes = HeaderBytes(message.Headers);
        if (headerBytes > MaxHeaderBytes)
        {
            throw new ArgumentException(
                Where($"Headers take {headerBytes} bytes ({message.Headers.Count} headers; UTF-8 names and values plus {HeaderOverheadBytes} bytes each); " +
                      $"the limit is {MaxHeaderBytes} bytes, because a broker carries them in one frame (RabbitMQ: frame_max, 131,072 bytes by default). " +
                      "Put large data in the payload."),
                nameof(message));
        }

        void CheckShortString(string? value, string field)
        {
            if (value is not null && value.Length > MaxShortStringBytes / 3 && Encoding.UTF8.GetByteCount(value) > MaxShortStringBytes)
            {
                throw new ArgumentException(
                    Where($"{field} is {Encoding.UTF8.GetByteCount(value)} bytes in UTF-8; the limit is {MaxShortStringBytes} bytes (an AMQP short string)."),
                    nameof(message));
            }
        }
    }

    private static string Shorten(string? name) => name is { Length: > 40 } ? name[..40] + "…" : name ?? string.Empty;
}
