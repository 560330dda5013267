namespace Postbox.Consumers;

/// <summary>
/// Where a consumer's messages come from: a broker queue (RabbitMQ) or the in-process transport. The runtime
/// settles every delivery exactly once through <see cref="IncomingMessage.AckAsync"/> or
/// <see cref="IncomingMessage.RequeueAsync"/>.
/// </summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public interface IConsumerSource
{
    /// <summary>
    /// Starts delivering the messages of <see cref="ConsumerSubscriptionRequest.Topic"/>, at most
    /// <see cref="ConsumerSubscriptionRequest.Prefetch"/> unsettled at a time. Throws when the broker cannot be
    /// reached; the runtime retries.
    /// </summary>
    /// <param name="request">What to consume.</param>
    /// <param name="cancellationToken">Cancels subscribing.</param>
    Task<IConsumerSubscription> SubscribeAsync(ConsumerSubscriptionRequest request, CancellationToken cancellationToken);
}
