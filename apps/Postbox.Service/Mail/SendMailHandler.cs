using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Service.Hosting;

namespace Postbox.Service.Mail;

/// <summary>
/// Sends one queued mail. Status first (<c>sending</c>, check-and-set, committed), then SMTP, then <c>sent</c> saved in its
/// own transaction and retried through a database outage (<see cref="SentRecorder"/>), before the inbox transaction
/// commits. Any later attempt of the same delivery — a redelivery after the inbox commit failed, a duplicate message —
/// finds <c>sent</c> and sends nothing. A failure is saved in the error history before the runtime schedules the retry;
/// the last one marks the delivery <c>failed</c>. The window that remains (see the app README): the worker dies, or the
/// database stays away longer than <see cref="WorkerSettings.SentRecordTimeout"/>, between the server's acceptance and
/// the saved record; then another worker sends the mail again (same <c>Message-ID</c>).
/// </summary>
internal sealed class SendMailHandler(MailDeliveryStore deliveries, MailSender sender, SentRecorder recorder, IOptions<WorkerSettings> worker,
    IOptions<MailSettings> mailSettings, TimeProvider timeProvider, ILogger<SendMailHandler> logger) : IMessageHandler<SendMailCommand>
{
    private const string Kind = "mail";

    public async Task HandleAsync(SendMailCommand message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        if (recorder.IsSentButUnsaved(Kind, message.DeliveryId))
        {
            // An earlier attempt here got the server's yes but could not save it: save it now, send nothing.
            await recorder.SaveAsync(Kind, message.DeliveryId, ct => deliveries.MarkSentAsync(message.DeliveryId, timeProvider.GetUtcNow(), ct))
                .ConfigureAwait(false);
            ServiceLog.MailSentRecordedLate(logger, message.DeliveryId);
            return;
        }

        var hold = mailSettings.Value.UnconfirmedSends == UnconfirmedSends.Hold;
        var start = await deliveries.TryStartSendingAsync(message.DeliveryId, timeProvider.GetUtcNow(), hold, cancellationToken).ConfigureAwait(false);
        if (start.WasHeld)
        {
            ServiceLog.MailHeldUnconfirmed(logger, message.DeliveryId, "an earlier attempt stopped after handing over the end of the mail");
            return;
        }

        var mail = start.Mail;
        if (mail is null)
        {
            ServiceLog.MailSkipped(logger, message.DeliveryId, context.MessageId);
            return;
        }

        ServiceLog.MailSending(logger, mail.Id, mail.Attempt, context.Attempt);
        try
        {
            await sender.SendAsync(Kind, mail.Id, mail.From, mail.To, mail.Subject, mail.Content,
                ct => deliveries.MarkEndOfDataAsync(mail.Id, mail.Attempt, timeProvider.GetUtcNow(), ct), cancellationToken).ConfigureAwait(false);
        }
        catch (MailUnconfirmedException ex) when (hold)
        {
            // The server may have the mail: sending it again could deliver it twice. Held for an operator (resend), not retried.
            await FailedSend.HoldAsync(ex.Message,
                (error, ct) => deliveries.RecordFailureAsync(mail.Id, mail.Attempt, timeProvider.GetUtcNow(), error, final: true, held: true, ct), timeProvider)
                .ConfigureAwait(false);
            ServiceLog.MailHeldUnconfirmed(logger, mail.Id, ex.Message);
            return;
        }
#pragma warning disable CA1031 // Every send failure is recorded; the exception is rethrown unless no retry can help.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var (permanent, reason) = await FailedSend.RecordAsync(ex, context.Attempt, worker.Value.MaxAttempts,
                (error, final, ct) => deliveries.RecordFailureAsync(mail.Id, mail.Attempt, timeProvider.GetUtcNow(), error, final, held: false, ct), timeProvider)
                .ConfigureAwait(false);
            if (permanent)
            {
                // Handled: the delivery is failed with the server's answer; retrying would only repeat it.
                ServiceLog.MailFailedFinally(logger, mail.Id, mail.Attempt, reason);
                return;
            }

            // Retried, or out of retries: the runtime logs the attempt, or the dead letter (one line each); this says
            // what SMTP answered, at debug level, so an exhausted mail is not logged twice.
            ServiceLog.MailFailed(logger, mail.Id, mail.Attempt, reason);
            throw;
        }

        // The mail is out: from here on nothing may send it again.
        await recorder.SaveAsync(Kind, mail.Id, ct => deliveries.MarkSentAsync(mail.Id, timeProvider.GetUtcNow(), ct)).ConfigureAwait(false);
        ServiceLog.MailSent(logger, mail.Id, mail.Attempt);
    }
}
