using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Postbox.Transport.InMemory;

/// <summary>
/// An in-process transport: each topic is an unbounded channel that consumers in the same process read. For tests
/// and single-process deployments (the reference service's out-of-the-box mode).
/// </summary>
/// <remarks>
/// Nothing here survives the process, so a publish is "confirmed" only once a consumer has settled the message
/// (<see cref="InMemoryDelivery.Complete"/>): until then the outbox row stays leased, and a process that stops or
/// crashes first publishes it again on its next start. Consumers deduplicate by message id. Keep the relay's
/// <c>PublishTimeout</c> above the handlers' run time, or slow handlers cause needless republishing.
/// </remarks>
public sealed class InMemoryTransport : IOutboxTransport
{
    private readonly ConcurrentDictionary<string, Channel<InMemoryDelivery>> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _subscribed = new(StringComparer.Ordinal);

    /// <summary>
    /// When <see langword="true"/> (the default), publishing to a topic nobody subscribed to fails, like an
    /// unroutable <c>mandatory</c> publish on RabbitMQ, so the relay retries instead of dropping it.
    /// </summary>
    public bool RequireSubscriber { get; init; } = true;

    /// <inheritdoc />
    public async ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (RequireSubscriber && !_subscribed.ContainsKey(message.Topic))
        {
            throw new TransportException($"No subscriber for topic '{message.Topic}': the message is unroutable.");
        }

        var delivery = new InMemoryDelivery(message);
        // Unbounded channels accept synchronously; the wait is for the consumer's settlement.
        GetChannel(message.Topic).Writer.TryWrite(delivery);
        await delivery.Settled.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Subscribes to <paramref name="topic"/> and returns the reader of its deliveries.</summary>
    /// <param name="topic">The topic to read.</param>
    public ChannelReader<InMemoryDelivery> Subscribe(string topic)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _subscribed[topic] = true;
        return GetChannel(topic).Reader;
    }

    private Channel<InMemoryDelivery> GetChannel(string topic) =>
        _topics.GetOrAdd(topic, static _ => Channel.CreateUnbounded<InMemoryDelivery>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false }));
}
