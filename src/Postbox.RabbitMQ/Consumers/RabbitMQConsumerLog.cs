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

    [LoggerMessage(3107, LogLevel.Information, "Handing partition queue '{Queue}' over: this worker is the active consumer of {Active} of {Partitions} partitions, more than its share of {Share} among {Workers} workers; {InFlight} deliveries being handled finish first, the rest go back to the queue in place.")]
    public static partial void HandingOver(ILogger logger, string queue, int active, int partitions, int share, int workers, int inFlight);

    [LoggerMessage(3108, LogLevel.Information, "Partition queue '{Queue}' handed over in {Elapsed}; this worker waits behind the queue's other consumers.")]
    public static partial void HandedOver(ILogger logger, string queue, TimeSpan elapsed);

    // Expected while the broker is unreachable: one line per interval, no stack trace.
    [LoggerMessage(3109, LogLevel.Warning, "Balancing the partitions of '{Queue}' failed: {Reason}; trying again at the next interval.")]
    public static partial void RebalanceFailed(ILogger logger, string queue, string reason);

    // Expected while the broker is unreachable (a pause or resume during a broker restart): one line, no stack trace.
    [LoggerMessage(3110, LogLevel.Warning, "Consumers of '{Queue}': {Action} failed ({Reason}); {Remedy}.")]
    public static partial void RegistrationFailed(ILogger logger, string queue, string action, string reason, string remedy);
}
