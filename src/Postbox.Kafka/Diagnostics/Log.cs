using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Postbox.Kafka.Diagnostics;

/// <summary>Source-generated log methods of the Kafka transport, with stable event ids (3200–3299).</summary>
internal static partial class Log
{
    [LoggerMessage(3200, LogLevel.Information, "Kafka producer '{ClientName}' created for {BootstrapServers} (idempotent, acks=all).")]
    public static partial void ProducerCreated(ILogger logger, string clientName, string bootstrapServers);

    [LoggerMessage(3201, LogLevel.Warning, "No Kafka broker of {BootstrapServers} can be reached ({Reason}); publishes fail as unavailable, one probe every {ProbeInterval}.")]
    public static partial void Unavailable(ILogger logger, string bootstrapServers, string reason, TimeSpan probeInterval);

    [LoggerMessage(3202, LogLevel.Information, "Kafka at {BootstrapServers} is reachable again.")]
    public static partial void Available(ILogger logger, string bootstrapServers);

    [LoggerMessage(3203, LogLevel.Error, "The Kafka producer hit a fatal error ({Code}: {Reason}); it is replaced on the next publish.")]
    public static partial void FatalError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(3204, LogLevel.Debug, "Kafka producer error ({Code}: {Reason}); librdkafka retries by itself.")]
    public static partial void ClientError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(3205, LogLevel.Debug, "librdkafka [{Facility}] {Message}")]
    public static partial void Librdkafka(ILogger logger, string facility, string message);

    [LoggerMessage(3206, LogLevel.Warning, "Flushing the Kafka producer on dispose left {Count} messages unconfirmed; the relay republishes them.")]
    public static partial void FlushIncomplete(ILogger logger, int count);

    [LoggerMessage(3207, LogLevel.Warning, "Disposing a replaced Kafka producer failed; it is abandoned.")]
    public static partial void DisposeFailed(ILogger logger, Exception exception);
}
