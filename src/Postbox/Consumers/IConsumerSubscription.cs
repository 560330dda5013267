using System.Threading.Channels;

namespace Postbox.Consumers;

/// <summary>A live subscription: the deliveries, and intake control.</summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public interface IConsumerSubscription : IAsyncDisposable
{
    /// <summary>Delivered messages, in delivery order. Completes when the subscription is disposed.</summary>
    ChannelReader<IncomingMessage> Messages { get; }

    /// <summary>Stops new deliveries (RabbitMQ: cancels the consumer); messages already delivered stay readable.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task PauseAsync(CancellationToken cancellationToken);

    /// <summary>Starts delivering again after <see cref="PauseAsync"/>.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task ResumeAsync(CancellationToken cancellationToken);
}
