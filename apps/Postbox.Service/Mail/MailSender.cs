using System.Globalization;
using System.Net;
using System.Net.Mail;
using System.Text;
using Microsoft.Extensions.Options;
using Postbox.Service.Hosting;

namespace Postbox.Service.Mail;

/// <summary>
/// Sends mail with <see cref="SmtpClient"/>: to the configured SMTP server, or as <c>.eml</c> files into the pickup
/// folder (the out-of-the-box sink). Every mail carries a <c>Message-ID</c> derived from its delivery id, so a mail sent
/// twice (see the app README's duplicate window) is recognizable as one by servers and clients that dedupe on it.
/// </summary>
internal sealed class MailSender(IOptions<MailSettings> options, TimeProvider timeProvider)
{
    private readonly MailSettings _settings = options.Value;

    public string MessageIdFor(string kind, Guid id) => $"<{kind}.{id:N}@{_settings.MessageIdDomain}>";

    public async Task SendAsync(string kind, Guid id, string from, IEnumerable<string> to, string subject, string content, CancellationToken cancellationToken)
    {
        using var message = new MailMessage
        {
            From = new MailAddress(from),
            Subject = subject,
            Body = content,
            IsBodyHtml = false,
            SubjectEncoding = Encoding.UTF8,
            BodyEncoding = Encoding.UTF8,
        };
        foreach (var recipient in to)
        {
            message.To.Add(new MailAddress(recipient));
        }

        message.Headers.Add("Message-ID", MessageIdFor(kind, id));
        if (_settings.Delivery == MailDelivery.Pickup)
        {
            await WriteEmlAsync(message, kind, id, cancellationToken).ConfigureAwait(false);
            return;
        }

        var smtp = _settings.Smtp;
        using var client = new SmtpClient(smtp.Host, smtp.Port)
        {
            DeliveryMethod = SmtpDeliveryMethod.Network,
            EnableSsl = smtp.EnableSsl,
            Timeout = (int)smtp.Timeout.TotalMilliseconds,
        };
        if (!string.IsNullOrEmpty(smtp.UserName))
        {
            client.Credentials = new NetworkCredential(smtp.UserName, smtp.Password);
        }

        using var timeout = new CancellationTokenSource(smtp.Timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        await client.SendMailAsync(message, linked.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the mail into a private folder first and moves it into the pickup folder, so whoever watches the folder
    /// never reads a half-written file.
    /// </summary>
    private async Task WriteEmlAsync(MailMessage message, string kind, Guid id, CancellationToken cancellationToken)
    {
        var folder = Path.GetFullPath(_settings.PickupDirectory);
        var staging = Path.Combine(folder, ".staging", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            using (var client = new SmtpClient { DeliveryMethod = SmtpDeliveryMethod.SpecifiedPickupDirectory, PickupDirectoryLocation = staging })
            {
                await client.SendMailAsync(message, cancellationToken).ConfigureAwait(false);
            }

            var written = Directory.GetFiles(staging).Single();
            var name = string.Create(CultureInfo.InvariantCulture, $"{timeProvider.GetUtcNow():yyyyMMdd-HHmmss-fff}-{kind}-{id:N}.eml");
            File.Move(written, Path.Combine(folder, name));
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }
}
