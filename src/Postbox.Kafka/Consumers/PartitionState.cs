using Confluent.Kafka;

namespace Postbox.Kafka.Consumers;

/// <summary>
/// What this process knows about one assigned partition: the deliveries not yet committable, in offset order, and the
/// next offset to commit. Touched only by the poll thread, except <see cref="Epoch"/> and <see cref="Revoking"/>, which
/// deliveries read to tell whether they are stale.
/// </summary>
internal sealed class PartitionState(TopicPartition partition)
{
    private int _epoch;
    private int _revoking;

    public TopicPartition Partition { get; } = partition;

    /// <summary>Deliveries in offset order, from the first one not yet settled; settled ones leave from the head only.</summary>
    public Queue<KafkaIncomingMessage> Pending { get; } = new();

    /// <summary>The offset to commit: one past the last offset below which every delivery is settled; -1 when none yet.</summary>
    public long Committable { get; set; } = -1;

    /// <summary>The offset last committed; -1 when none yet.</summary>
    public long Committed { get; set; } = -1;

    /// <summary>Highest offset delivered so far, to flag deliveries after a rewind as redelivered.</summary>
    public long HighestDelivered { get; set; } = -1;

    /// <summary>Changes when the partition is rewound or given up: deliveries of an older epoch are stale.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>Set once the partition is being revoked or is gone: its deliveries not yet started are stale.</summary>
    public bool Revoking => Volatile.Read(ref _revoking) != 0;

    public void NewEpoch() => Interlocked.Increment(ref _epoch);

    public void MarkRevoking() => Interlocked.Exchange(ref _revoking, 1);

    /// <summary>Moves <see cref="Committable"/> past the settled deliveries at the head.</summary>
    public void Advance()
    {
        while (Pending.TryPeek(out var head) && head.IsDone)
        {
            Pending.Dequeue();
            Committable = head.Offset + 1;
        }
    }
}
