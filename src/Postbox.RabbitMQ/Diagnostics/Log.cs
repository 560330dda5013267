using Microsoft.Extensions.Logging;

namespace Postbox.RabbitMQ.Diagnostics;

/// <summary>Source-generated log methods of the RabbitMQ transport, with stable event ids (3000–3099).</summary>
internal static partial class Log
{
    [LoggerMessage(3000, LogLevel.Information, "Connected to RabbitMQ at {Endpoint} as '{ClientName}'; exchange '{Exchange}' declared, {Channels} publish channels.")]
    public static partial void Connected(ILogger logger, string endpoint, string clientName, string exchange, int channels);

    [LoggerMessage(3001, LogLevel.Warning, "Connecting to RabbitMQ at {Endpoint} failed ({Reason}); the transport is unavailable until a connection succeeds (next attempt after {RetryDelay}, or at the relay's next probe).")]
    public static partial void ConnectFailed(ILogger logger, string endpoint, string reason, TimeSpan retryDelay);

    [LoggerMessage(3002, LogLevel.Warning, "The connection to RabbitMQ at {Endpoint} was shut down ({ReplyCode} {ReplyText}, initiated by {Initiator}); publishes fail until it recovers.")]
    public static partial void ConnectionShutdown(ILogger logger, string endpoint, ushort replyCode, string replyText, string initiator);

    [LoggerMessage(3003, LogLevel.Information, "The connection to RabbitMQ at {Endpoint} recovered.")]
    public static partial void ConnectionRecovered(ILogger logger, string endpoint);

    [LoggerMessage(3004, LogLevel.Warning, "Automatic recovery of the connection to RabbitMQ at {Endpoint} failed ({Reason}); the client retries (logged once per outage).")]
    public static partial void ConnectionRecoveryFailed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(3005, LogLevel.Warning, "The connection to RabbitMQ at {Endpoint} is not recovering ({Reason}); opening a new one.")]
    public static partial void ConnectionReplaced(ILogger logger, string endpoint, string reason);

    [LoggerMessage(3006, LogLevel.Warning, "RabbitMQ blocked the connection at {Endpoint} ({Reason}): the transport is unavailable (nothing more is published) until it is unblocked.")]
    public static partial void ConnectionBlocked(ILogger logger, string endpoint, string reason);

    [LoggerMessage(3007, LogLevel.Information, "RabbitMQ unblocked the connection at {Endpoint}.")]
    public static partial void ConnectionUnblocked(ILogger logger, string endpoint);

    [LoggerMessage(3008, LogLevel.Warning, "Publish channel {Slot} was closed by the broker ({ReplyCode} {ReplyText}); opening a new one.")]
    public static partial void ChannelReplaced(ILogger logger, int slot, ushort replyCode, string replyText);

    [LoggerMessage(3009, LogLevel.Information, "Declared {QueueType} queue '{Queue}' bound to exchange '{Exchange}' for topic '{Topic}'.")]
    public static partial void QueueDeclared(ILogger logger, string queueType, string queue, string exchange, string topic);

    [LoggerMessage(3010, LogLevel.Debug, "RabbitMQ returned message {MessageId} for topic '{Topic}' from exchange '{Exchange}': {ReplyCode} {ReplyText}.")]
    public static partial void MessageReturned(ILogger logger, string messageId, string topic, string exchange, ushort replyCode, string replyText);

    [LoggerMessage(3011, LogLevel.Warning, "RabbitMQ refuses messages larger than {MaxSize} bytes; larger messages now fail at once and are not retried.")]
    public static partial void MaxMessageSizeLearned(ILogger logger, long maxSize);

    [LoggerMessage(3012, LogLevel.Warning, "Closing a RabbitMQ connection or channel failed while disposing; it is abandoned.")]
    public static partial void DisposeFailed(ILogger logger, Exception exception);

    [LoggerMessage(3013, LogLevel.Debug, "Declaring the queue of topic '{Topic}' was forgotten after a returned message; it will be declared again.")]
    public static partial void QueueForgotten(ILogger logger, string topic);

    [LoggerMessage(3014, LogLevel.Debug, "Connecting to RabbitMQ at {Endpoint} failed again (attempt {Attempts}): {Reason}")]
    public static partial void ConnectStillFailing(ILogger logger, string endpoint, int attempts, string reason);

    [LoggerMessage(3015, LogLevel.Debug, "The connection to RabbitMQ at {Endpoint} is recovering ({Reason}); a probe tries a fresh connection now.")]
    public static partial void ConnectionProbing(ILogger logger, string endpoint, string reason);

    [LoggerMessage(3016, LogLevel.Error, "Message {MessageId} for topic '{Topic}' is refused before publishing: {Reason}")]
    public static partial void MessageRefused(ILogger logger, string messageId, string topic, string reason);
}
