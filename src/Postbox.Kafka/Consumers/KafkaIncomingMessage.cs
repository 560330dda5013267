using Postbox.Consumers;

namespace Postbox.Kafka.Consumers;

/// <summary>One record delivered by a <see cref="KafkaSubscription"/>: its partition, offset and the partition epoch it belongs to.</summary>
internal sealed class KafkaIncomingMessage(KafkaSubscription subscription, PartitionState partition, int epoch, long offset, Guid? messageId,
    string topic, string? key, string? type, ReadOnlyMemory<byte> payload, IReadOnlyDictionary<string, string> headers, bool redelivered)
    : IncomingMessage(messageId, topic, key, type, payload, headers, redelivered)
{
    public override string MessagingSystem => "kafka";

    private int _started;
    private int _credited = 1;
    private int _done;
    private int _settled;

    public PartitionState Partition => partition;

    public int Epoch => epoch;

    public long Offset => offset;

    /// <summary>Whether the runtime asked <see cref="IsStale"/> and got <see langword="false"/>: it is (or was) being handled.</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    /// <summary>Acknowledged or handed back by the runtime: nothing more will come of it here.</summary>
    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    /// <summary>Settled with an ack: its offset may be committed.</summary>
    public bool IsDone => Volatile.Read(ref _done) != 0;

    /// <summary>
    /// The runtime reads this once, before handling. The partition was revoked or rewound since the delivery: another
    /// consumer, or this one after the rewind, gets the record again, so it is skipped. Reading it records that handling
    /// started (a full fence, so revoking sees either the start or the stale answer).
    /// </summary>
    public override bool IsStale
    {
        get
        {
            Interlocked.Exchange(ref _started, 1);
            if (partition.Revoking || partition.Epoch != epoch)
            {
                Interlocked.Exchange(ref _started, 0); // Skipped, not handled: revoking need not wait for it.
                return true;
            }

            return false;
        }
    }

    public override ValueTask AckAsync(CancellationToken cancellationToken)
    {
        subscription.Settle(this, requeue: false);
        return ValueTask.CompletedTask;
    }

    public override ValueTask RequeueAsync(CancellationToken cancellationToken)
    {
        subscription.Settle(this, requeue: true);
        return ValueTask.CompletedTask;
    }

    public void MarkDone() => Volatile.Write(ref _done, 1);

    public void MarkSettled() => Volatile.Write(ref _settled, 1);

    /// <summary>Gives back its prefetch credit exactly once (settled, or dropped with its partition).</summary>
    public bool TryReleaseCredit() => Interlocked.Exchange(ref _credited, 0) == 1;
}
