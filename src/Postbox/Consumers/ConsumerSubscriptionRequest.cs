namespace Postbox.Consumers;

/// <summary>What a consumer subscribes to.</summary>
/// <param name="Topic">The topic (RabbitMQ routing key).</param>
/// <param name="ConsumerName">The consumer's name (shown as the broker's consumer tag prefix).</param>
/// <param name="Queue">An explicit queue name, or <see langword="null"/> for the transport's queue of the topic.</param>
/// <param name="Prefetch">Largest number of delivered but unsettled messages.</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record ConsumerSubscriptionRequest(string Topic, string ConsumerName, string? Queue, int Prefetch);
