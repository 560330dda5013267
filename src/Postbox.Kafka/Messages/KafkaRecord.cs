using System.Globalization;
using System.Text;
using Confluent.Kafka;

namespace Postbox.Kafka.Messages;

/// <summary>Maps an <see cref="OutboxEnvelope"/> to a Kafka record and back: the names of the headers Postbox writes.</summary>
internal static class KafkaRecord
{
    /// <summary>Header carrying the outbox message id (Kafka records have no id of their own), as <c>D</c>-format text.</summary>
    public const string MessageIdHeader = "postbox-message-id";

    /// <summary>Header carrying the message type, when set.</summary>
    public const string TypeHeader = "postbox-type";

    /// <summary>Header carrying the publish attempt, 1 for the first.</summary>
    public const string AttemptHeader = "postbox-attempt";

    /// <summary>Header carrying the enqueue time (ISO 8601, UTC). The record timestamp is the produce time, so topic retention counts from publishing.</summary>
    public const string CreatedAtHeader = "postbox-created-at";

    private const string ReservedPrefix = "postbox-";

    public static Message<byte[]?, byte[]> Create(OutboxEnvelope message)
    {
        var headers = new Headers();
        foreach (var (name, value) in message.Headers)
        {
            // The names Postbox writes below win: a consumer must never read a message id a user header forged.
            if (!name.StartsWith(ReservedPrefix, StringComparison.Ordinal))
            {
                headers.Add(name, Encoding.UTF8.GetBytes(value));
            }
        }

        headers.Add(MessageIdHeader, Encoding.UTF8.GetBytes(message.Id.ToString("D")));
        if (message.Type is not null)
        {
            headers.Add(TypeHeader, Encoding.UTF8.GetBytes(message.Type));
        }

        headers.Add(AttemptHeader, Encoding.UTF8.GetBytes((message.Attempts + 1).ToString(CultureInfo.InvariantCulture)));
        headers.Add(CreatedAtHeader, Encoding.UTF8.GetBytes(message.CreatedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)));

        return new Message<byte[]?, byte[]>
        {
            // The record key picks the partition, so the messages of one key stay in one partition, in order.
            Key = message.Key is null ? null : Encoding.UTF8.GetBytes(message.Key),
            // ToArray: the payload may be a slice of a larger buffer; librdkafka copies the bytes it is given.
            Value = message.Payload.ToArray(),
            Headers = headers,
        };
    }

    /// <summary>Reads every header as UTF-8 text (the last value wins when a name repeats), skipping null values.</summary>
    public static Dictionary<string, string> ReadHeaders(Headers? headers)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (headers is null)
        {
            return result;
        }

        foreach (var header in headers)
        {
            if (header.GetValueBytes() is { } bytes)
            {
                result[header.Key] = Encoding.UTF8.GetString(bytes);
            }
        }

        return result;
    }
}
