using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Service.Hosting;
using Postbox.Service.Mail;

namespace Postbox.Service.Users;

/// <summary>Sends the welcome mail of a new user and marks its notification sent (same pattern as <see cref="SendMailHandler"/>).</summary>
internal sealed class WelcomeMailHandler(UserStore users, MailSender sender, IOptions<MailSettings> mail, IOptions<WorkerSettings> worker,
    TimeProvider timeProvider, ILogger<WelcomeMailHandler> logger) : IMessageHandler<WelcomeMailCommand>
{
    private static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(15);

    public async Task HandleAsync(WelcomeMailCommand message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        var welcome = await users.TryStartSendingAsync(message.NotificationId, cancellationToken).ConfigureAwait(false);
        if (welcome is null)
        {
            ServiceLog.WelcomeSkipped(logger, message.NotificationId);
            return;
        }

        try
        {
            await sender.SendAsync("welcome", welcome.Id, mail.Value.WelcomeFrom, [welcome.Recipient], "Welcome to Postbox",
                $"Hello {welcome.Recipient},\n\nyour account is ready.\n", cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Recorded, then rethrown unless no retry can help.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var permanent = SmtpFailure.IsPermanent(ex);
            var final = permanent || context.Attempt > worker.Value.MaxRetries;
            using (var timeout = new CancellationTokenSource(RecordTimeout, timeProvider))
            {
                await users.RecordFailureAsync(welcome.Id, SmtpFailure.Describe(ex), final, timeout.Token).ConfigureAwait(false);
            }

            ServiceLog.WelcomeFailed(logger, ex, welcome.Id, welcome.Attempt, final);
            if (permanent)
            {
                return;
            }

            throw;
        }

        await users.MarkSentAsync(context.Transaction, welcome.Id, timeProvider.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
        ServiceLog.WelcomeSent(logger, welcome.Id);
    }
}
