using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Service.Hosting;
using Postbox.Service.Mail;

namespace Postbox.Service.Users;

/// <summary>Sends the welcome mail of a new user and marks its notification sent (same pattern as <see cref="SendMailHandler"/>).</summary>
internal sealed class WelcomeMailHandler(UserStore users, MailSender sender, SentRecorder recorder, IOptions<MailSettings> mail, IOptions<WorkerSettings> worker,
    TimeProvider timeProvider, ILogger<WelcomeMailHandler> logger) : IMessageHandler<WelcomeMailCommand>
{
    private const string Kind = "welcome";

    public async Task HandleAsync(WelcomeMailCommand message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        if (recorder.IsSentButUnsaved(Kind, message.NotificationId))
        {
            await recorder.SaveAsync(Kind, message.NotificationId, ct => users.MarkSentAsync(message.NotificationId, timeProvider.GetUtcNow(), ct))
                .ConfigureAwait(false);
            ServiceLog.WelcomeSentRecordedLate(logger, message.NotificationId);
            return;
        }

        var hold = mail.Value.UnconfirmedSends == UnconfirmedSends.Hold;
        var (welcome, held) = await users.TryStartSendingAsync(message.NotificationId, hold, cancellationToken).ConfigureAwait(false);
        if (held)
        {
            ServiceLog.WelcomeHeldUnconfirmed(logger, message.NotificationId, "an earlier attempt stopped after handing over the end of the mail");
            return;
        }

        if (welcome is null)
        {
            ServiceLog.WelcomeSkipped(logger, message.NotificationId);
            return;
        }

        try
        {
            await sender.SendAsync(Kind, welcome.Id, mail.Value.WelcomeFrom, [welcome.Recipient], "Welcome to Postbox",
                $"Hello {welcome.Recipient},\n\nyour account is ready.\n",
                ct => users.MarkEndOfDataAsync(welcome.Id, welcome.Attempt, timeProvider.GetUtcNow(), ct), cancellationToken).ConfigureAwait(false);
        }
        catch (MailUnconfirmedException ex) when (hold)
        {
            await FailedSend.HoldAsync(ex.Message, (error, ct) => users.RecordFailureAsync(welcome.Id, error, final: true, held: true, ct), timeProvider)
                .ConfigureAwait(false);
            ServiceLog.WelcomeHeldUnconfirmed(logger, welcome.Id, ex.Message);
            return;
        }
#pragma warning disable CA1031 // Recorded, then rethrown unless no retry can help.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var (permanent, reason) = await FailedSend.RecordAsync(ex, context.Attempt, worker.Value.MaxAttempts,
                (error, final, ct) => users.RecordFailureAsync(welcome.Id, error, final, held: false, ct), timeProvider).ConfigureAwait(false);
            if (permanent)
            {
                ServiceLog.WelcomeFailedFinally(logger, welcome.Id, welcome.Attempt, reason);
                return;
            }

            ServiceLog.WelcomeFailed(logger, welcome.Id, welcome.Attempt, reason);
            throw;
        }

        await recorder.SaveAsync(Kind, welcome.Id, ct => users.MarkSentAsync(welcome.Id, timeProvider.GetUtcNow(), ct)).ConfigureAwait(false);
        ServiceLog.WelcomeSent(logger, welcome.Id);
    }
}
