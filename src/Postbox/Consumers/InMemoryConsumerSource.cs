using Postbox.Transport.InMemory;

namespace Postbox.Consumers;

/// <summary>
/// Consumes the <see cref="InMemoryTransport"/>'s topics. Handlers of one topic in one process compete for its
/// messages. Nothing survives a restart once published; the inbox still dedupes and retries durably.
/// </summary>
internal sealed class InMemoryConsumerSource(InMemoryTransport transport) : IConsumerSource
{
    public Task<IConsumerSubscription> SubscribeAsync(ConsumerSubscriptionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult<IConsumerSubscription>(new InMemorySubscription(transport.Subscribe(request.Topic), request.Prefetch));
    }
}
