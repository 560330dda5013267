namespace Postbox.Consumers;

/// <summary>
/// Handles messages of one type from one topic. Registered explicitly with
/// <see cref="Microsoft.Extensions.DependencyInjection.PostboxConsumerBuilderExtensions.AddHandler{TMessage, THandler}"/>;
/// resolved from a new DI scope for every message.
/// </summary>
/// <typeparam name="TMessage">The payload type, deserialized from JSON with System.Text.Json.</typeparam>
public interface IMessageHandler<in TMessage>
{
    /// <summary>
    /// Handles one message. Database work done through <see cref="MessageContext.Transaction"/> commits together
    /// with the inbox row, after this method returns; throwing rolls it back and schedules a durable retry.
    /// </summary>
    /// <param name="message">The deserialized payload.</param>
    /// <param name="context">Message metadata and the inbox transaction.</param>
    /// <param name="cancellationToken">Cancelled when the handler's timeout expires or when shutdown runs out of time.</param>
    Task HandleAsync(TMessage message, MessageContext context, CancellationToken cancellationToken);
}
