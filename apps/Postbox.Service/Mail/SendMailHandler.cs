using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Service.Hosting;

namespace Postbox.Service.Mail;

/// <summary>
/// Sends one queued mail. Status first (<c>sending</c>, check-and-set, committed), then SMTP, then <c>sent</c> in the
/// inbox transaction. A failure is saved in the error history before the runtime schedules the retry; the last one marks
/// the delivery <c>failed</c>. Remaining duplicate window: a crash after the server accepted the mail and before the
/// commit sends it again on the next attempt (same <c>Message-ID</c>).
/// </summary>
internal sealed class SendMailHandler(MailDeliveryStore deliveries, MailSender sender, IOptions<WorkerSettings> worker, TimeProvider timeProvider,
    ILogger<SendMailHandler> logger) : IMessageHandler<SendMailCommand>
{
    // Saving the error must not be skipped because the attempt's token fired (time-out, shutdown), yet must not hang.
    private static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(15);

    public async Task HandleAsync(SendMailCommand message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        var mail = await deliveries.TryStartSendingAsync(message.DeliveryId, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (mail is null)
        {
            ServiceLog.MailSkipped(logger, message.DeliveryId, context.MessageId);
            return;
        }

        ServiceLog.MailSending(logger, mail.Id, mail.Attempt, context.Attempt);
        try
        {
            await sender.SendAsync("mail", mail.Id, mail.From, mail.To, mail.Subject, mail.Content, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Every send failure is recorded; the exception is rethrown unless no retry can help.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var permanent = SmtpFailure.IsPermanent(ex);
            // The runtime dead-letters after attempt MaxRetries + 1; the delivery is failed from that same attempt on.
            var final = permanent || context.Attempt > worker.Value.MaxRetries;
            using (var timeout = new CancellationTokenSource(RecordTimeout, timeProvider))
            {
                await deliveries.RecordFailureAsync(mail.Id, mail.Attempt, timeProvider.GetUtcNow(), SmtpFailure.Describe(ex), final, timeout.Token)
                    .ConfigureAwait(false);
            }

            ServiceLog.MailFailed(logger, ex, mail.Id, mail.Attempt, final);
            if (permanent)
            {
                // Handled: the delivery is failed with the server's answer; retrying would only repeat it.
                return;
            }

            throw;
        }

        await deliveries.MarkSentAsync(context.Transaction, mail.Id, timeProvider.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
        ServiceLog.MailSent(logger, mail.Id, mail.Attempt);
    }
}
