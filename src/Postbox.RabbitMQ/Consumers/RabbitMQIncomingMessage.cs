using Postbox.Consumers;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>A delivery on a <see cref="RabbitMQSubscription"/>: its delivery tag and the connection epoch it arrived in.</summary>
internal sealed class RabbitMQIncomingMessage(RabbitMQSubscription subscription, ulong deliveryTag, long epoch, Guid? messageId, string topic,
    string? key, string? type, ReadOnlyMemory<byte> payload, IReadOnlyDictionary<string, string> headers, bool redelivered)
    : IncomingMessage(messageId, topic, key, type, payload, headers, redelivered)
{
    public override string MessagingSystem => "rabbitmq";

    public override bool IsStale => subscription.Epoch != epoch;

    public override ValueTask AckAsync(CancellationToken cancellationToken) => subscription.SettleAsync(deliveryTag, epoch, requeue: false, cancellationToken);

    public override ValueTask RequeueAsync(CancellationToken cancellationToken) => subscription.SettleAsync(deliveryTag, epoch, requeue: true, cancellationToken);
}
