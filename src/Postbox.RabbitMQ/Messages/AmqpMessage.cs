using System.Globalization;
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
}
