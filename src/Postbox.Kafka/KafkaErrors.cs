using Confluent.Kafka;

namespace Postbox.Kafka;

/// <summary>What a Kafka error means for the message that got it.</summary>
internal enum KafkaErrorKind
{
    /// <summary>This message failed; a later attempt may succeed (an unknown topic may be created, an ACL granted).</summary>
    Transient,

    /// <summary>This message can never be accepted (too large, an invalid record or topic name).</summary>
    Permanent,

    /// <summary>The cluster as a whole cannot take messages now: not the message's fault.</summary>
    Unavailable,
}

/// <summary>Sorts librdkafka and broker error codes into <see cref="KafkaErrorKind"/>.</summary>
internal static class KafkaErrors
{
    public static KafkaErrorKind Classify(ErrorCode code) => code switch
    {
        // No broker answered before the delivery timeout, none is up, the local queue is full, a connection broke, or the
        // cluster lacks the in-sync replicas acks=all needs: every message would fail the same way.
        ErrorCode.Local_MsgTimedOut or ErrorCode.Local_AllBrokersDown or ErrorCode.Local_QueueFull or ErrorCode.Local_Transport
            or ErrorCode.Local_TimedOut or ErrorCode.Local_TimedOutQueue or ErrorCode.Local_Fatal or ErrorCode.Local_Destroy
            or ErrorCode.Local_Resolve or ErrorCode.Local_Authentication or ErrorCode.Local_Ssl or ErrorCode.SaslAuthenticationFailed
            or ErrorCode.ClusterAuthorizationFailed or ErrorCode.NetworkException or ErrorCode.RequestTimedOut
            or ErrorCode.BrokerNotAvailable or ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend
            or ErrorCode.KafkaStorageError or ErrorCode.ThrottlingQuotaExceeded => KafkaErrorKind.Unavailable,

        // The record itself is refused: sending it again cannot help.
        ErrorCode.MsgSizeTooLarge or ErrorCode.InvalidMsgSize or ErrorCode.InvalidMsg or ErrorCode.InvalidRecord
            or ErrorCode.RecordListTooLarge or ErrorCode.TopicException or ErrorCode.Local_BadMsg or ErrorCode.Local_InvalidArg
            or ErrorCode.InvalidTimestamp or ErrorCode.UnsupportedForMessageFormat => KafkaErrorKind.Permanent,

        // Unknown topic or partition, a topic ACL, a leader moving...: this message only, retried with back-off.
        _ => KafkaErrorKind.Transient,
    };
}
