using Postbox.Consumers;
using Postbox.Service.Hosting;

namespace Postbox.Service.Customers;

/// <summary>
/// Handles <c>CustomerCreated</c>: logs it and records the effect in the inbox transaction, so a redelivered event is
/// recognized as a duplicate and has no second effect.
/// </summary>
internal sealed class CustomerCreatedHandler(CustomerStore customers, TimeProvider timeProvider, ILogger<CustomerCreatedHandler> logger)
    : IMessageHandler<CustomerCreated>
{
    public async Task HandleAsync(CustomerCreated message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        ServiceLog.CustomerEventHandled(logger, message.Id, message.Name, context.MessageId, context.Attempt);
        await customers.RecordEventHandledAsync(context.Transaction, message.Id, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }
}
