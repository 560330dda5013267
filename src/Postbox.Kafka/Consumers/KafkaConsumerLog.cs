using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Postbox.Kafka.Consumers;

/// <summary>Source-generated log methods of the Kafka consumer source (event ids 3300–3399).</summary>
internal static partial class KafkaConsumerLog
{
    [LoggerMessage(3300, LogLevel.Information, "Consuming Kafka topic '{Topic}' in group '{GroupId}' from {BootstrapServers}, at most {Prefetch} unsettled.")]
    public static partial void Subscribed(ILogger logger, string topic, string groupId, string bootstrapServers, int prefetch);

    [LoggerMessage(3301, LogLevel.Information, "Group '{GroupId}' assigned partitions {Partitions}.")]
    public static partial void Assigned(ILogger logger, string groupId, string partitions);

    [LoggerMessage(3302, LogLevel.Information, "Group '{GroupId}' revoked partitions {Partitions}: committed what was done, {Dropped} unfinished messages go to the new owner.")]
    public static partial void Revoked(ILogger logger, string groupId, string partitions, int dropped);

    [LoggerMessage(3303, LogLevel.Warning, "Group '{GroupId}' lost partitions {Partitions} (no commit possible); their unfinished messages are redelivered to the new owner.")]
    public static partial void Lost(ILogger logger, string groupId, string partitions);

    [LoggerMessage(3304, LogLevel.Warning, "Committing offsets of group '{GroupId}' failed ({Code}: {Reason}); retried at the next commit.")]
    public static partial void CommitFailed(ILogger logger, string groupId, ErrorCode code, string reason);

    [LoggerMessage(3305, LogLevel.Warning, "Consuming topic '{Topic}' in group '{GroupId}' failed ({Code}: {Reason}); the consumer keeps polling.")]
    public static partial void ConsumeFailed(ILogger logger, string topic, string groupId, ErrorCode code, string reason);

    [LoggerMessage(3306, LogLevel.Debug, "Message at {Partition} offset {Offset} was handed back: group '{GroupId}' rewinds the partition to offset {From}.")]
    public static partial void Rewound(ILogger logger, string groupId, string partition, long offset, long from);

    [LoggerMessage(3307, LogLevel.Warning, "Kafka consumer error in group '{GroupId}' ({Code}: {Reason}).")]
    public static partial void ClientError(ILogger logger, string groupId, ErrorCode code, string reason);

    [LoggerMessage(3308, LogLevel.Warning, "Closing the Kafka consumer of group '{GroupId}' failed; it is abandoned (uncommitted messages are redelivered).")]
    public static partial void CloseFailed(ILogger logger, Exception exception, string groupId);

    [LoggerMessage(3309, LogLevel.Information, "Stopped consuming topic '{Topic}' in group '{GroupId}'.")]
    public static partial void Stopped(ILogger logger, string topic, string groupId);

    [LoggerMessage(3310, LogLevel.Error, "The Kafka poll loop of group '{GroupId}' failed unexpectedly; the subscription ends (restart the process).")]
    public static partial void LoopFailed(ILogger logger, Exception exception, string groupId);
}
