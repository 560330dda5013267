using Postbox.Service.Data;
using Postbox.Service.Hosting;

namespace Postbox.Service.Mail;

/// <summary>Accepts a mail: the delivery row and its outbox message commit in one transaction, or neither does.</summary>
internal sealed class MailService(AppDatabase database, MailDeliveryStore deliveries, IOutbox outbox, TimeProvider timeProvider, ILogger<MailService> logger)
{
    public async Task<Guid> QueueAsync(ValidMail mail, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mail);
        var id = Guid.CreateVersion7();
        // The delivery id is the ordering key: every message about one delivery stays in order.
        var message = OutboxMessage.FromJson(Topics.MailSend, new SendMailCommand(id), key: id.ToString("D"), type: "SendMail");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await deliveries.InsertAsync(transaction, id, message.Id, mail.From, mail.To, mail.Subject, mail.Content, timeProvider.GetUtcNow(), cancellationToken)
            .ConfigureAwait(false);
        await outbox.EnqueueAsync(transaction, message, cancellationToken).ConfigureAwait(false);
        // Not the request's token: once committing starts, the client is answered only after the outcome is known.
        await AppDatabase.CommitAsync(transaction).ConfigureAwait(false);
        ServiceLog.MailQueued(logger, id, message.Id);
        return id;
    }

    /// <summary>
    /// Queues a failed or unconfirmed delivery again: its status and a new outbox message commit together. Returns
    /// <see langword="false"/> when the delivery is not failed (or unknown); nothing is written then.
    /// </summary>
    public async Task<bool> RequeueAsync(Guid id, CancellationToken cancellationToken)
    {
        var message = OutboxMessage.FromJson(Topics.MailSend, new SendMailCommand(id), key: id.ToString("D"), type: "SendMail");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        if (!await deliveries.RequeueAsync(transaction, id, message.Id, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await outbox.EnqueueAsync(transaction, message, cancellationToken).ConfigureAwait(false);
        await AppDatabase.CommitAsync(transaction).ConfigureAwait(false);
        ServiceLog.MailRequeued(logger, id, message.Id);
        return true;
    }
}
