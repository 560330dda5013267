using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Postbox.Transport.InMemory;

/// <summary>
/// An in-process transport: each topic is an unbounded channel that consumers in the same process read.
/// For tests and single-process deployments (the reference service's out-of-the-box mode); nothing
/// survives a restart once published, so the outbox row is the durable copy until the consumer acts.
/// </summary>
public sealed class InMemoryTransport : IOutboxTransport
{
    private readonly ConcurrentDictionary<string, Channel<OutboxEnvelope>> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _subscribed = new(StringComparer.Ordinal);

    /// <summary>
    /// When <see langword="true"/> (the default), publishing to a topic nobody subscribed to fails, like an
    /// unroutable <c>mandatory</c> publish on RabbitMQ, so the relay retries instead of dropping it.
    /// </summary>
    public bool RequireSubscriber { get; init; } = true;

    /// <inheritdoc />
    public ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (RequireSubscriber && !_subscribed.ContainsKey(message.Topic))
        {
            return ValueTask.FromException(new TransportException($"No subscriber for topic '{message.Topic}': the message is unroutable."));
        }

        // Unbounded channels accept synchronously; this never blocks the relay.
        GetChannel(message.Topic).Writer.TryWrite(message);
        return ValueTask.CompletedTask;
    }

    /// <summary>Subscribes to <paramref name="topic"/> and returns the reader of its messages.</summary>
    /// <param name="topic">The topic to read.</param>
    public ChannelReader<OutboxEnvelope> Subscribe(string topic)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _subscribed[topic] = true;
        return GetChannel(topic).Reader;
    }

    private Channel<OutboxEnvelope> GetChannel(string topic) =>
        _topics.GetOrAdd(topic, static _ => Channel.CreateUnbounded<OutboxEnvelope>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false }));
}
