using Microsoft.Extensions.Logging;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>Source-generated log methods of the RabbitMQ consumer source (event ids 3100–3199).</summary>
internal static partial class RabbitMQConsumerLog
{
    [LoggerMessage(3100, LogLevel.Information, "Consumer connection to RabbitMQ at {Endpoint} opened as '{ClientName}'.")]
    public static partial void Connected(ILogger logger, string endpoint, string clientName);

    [LoggerMessage(3101, LogLevel.Information, "Consuming queue '{Queue}' (bound to '{Exchange}' with '{Topic}') and {Partitions} single-active-consumer partition queues, prefetch {Prefetch} each.")]
    public static partial void Consuming(ILogger logger, string queue, string exchange, string topic, int partitions, int prefetch);

    [LoggerMessage(3102, LogLevel.Warning, "The consumer connection to RabbitMQ at {Endpoint} was shut down ({ReplyCode} {ReplyText}); unacknowledged deliveries return to their queues and automatic recovery reconnects.")]
    public static partial void ConnectionShutdown(ILogger logger, string endpoint, ushort replyCode, string replyText);

    [LoggerMessage(3103, LogLevel.Information, "The consumer connection to RabbitMQ at {Endpoint} recovered; consumers resumed.")]
    public static partial void ConnectionRecovered(ILogger logger, string endpoint);

    [LoggerMessage(3104, LogLevel.Warning, "Closing the consumer channel of queue '{Queue}' failed; it is abandoned (the broker requeues its unacknowledged deliveries).")]
    public static partial void CloseFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(3105, LogLevel.Information, "Stopped consuming queue '{Queue}'.")]
    public static partial void Cancelled(ILogger logger, string queue);

    // An expected failure while the broker is down (it repeats every few seconds): one line with the reason, no stack trace.
    [LoggerMessage(3106, LogLevel.Warning, "Automatic recovery of the consumer connection to RabbitMQ at {Endpoint} failed: {Reason}; the client retries.")]
    public static partial void RecoveryFailed(ILogger logger, string endpoint, string reason);
}
