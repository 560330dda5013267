using Postbox.Consumers;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>A delivery on a <see cref="QueueConsumer"/>: its delivery tag and the connection epoch it arrived in.</summary>
internal sealed class RabbitMQIncomingMessage(QueueConsumer queue, ulong deliveryTag, long epoch, Guid? messageId, string topic,
    string? key, string? type, ReadOnlyMemory<byte> payload, IReadOnlyDictionary<string, string> headers, bool redelivered)
    : IncomingMessage(messageId, topic, key, type, payload, headers, redelivered)
{
    private int _started;

    public override string MessagingSystem => "rabbitmq";

    /// <summary>Whether the runtime asked <see cref="IsStale"/> and got <see langword="false"/>: it is (or was) being handled.</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    /// <summary>
    /// The runtime reads this right before it starts the delivery. Stale: the channel was lost (the broker requeued it),
    /// or the queue is being handed over (<see cref="QueueConsumer.ReleaseAsync"/>), which returns it to the broker. Reading
    /// it records that handling started — a full fence first, so a release sees either the start (and waits for the
    /// outcome) or this delivery sees the release (and stays unstarted). The Kafka source uses the same protocol.
    /// </summary>
    public override bool IsStale
    {
        get
        {
            Interlocked.Exchange(ref _started, 1);
            if (queue.Refuses(epoch))
            {
                Interlocked.Exchange(ref _started, 0); // Skipped, not handled: a release need not wait for it.
                return true;
            }

            return false;
        }
    }

    public override ValueTask AckAsync(CancellationToken cancellationToken) => queue.SettleAsync(this, deliveryTag, epoch, requeue: false, cancellationToken);

    public override ValueTask RequeueAsync(CancellationToken cancellationToken) => queue.SettleAsync(this, deliveryTag, epoch, requeue: true, cancellationToken);
}
