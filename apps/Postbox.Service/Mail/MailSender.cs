using System.Diagnostics;
using System.Globalization;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Options;
using MimeKit;
using MimeKit.Text;
using Postbox.Service.Hosting;

namespace Postbox.Service.Mail;

/// <summary>
/// Sends mail with MailKit: to the configured SMTP server (TLS as configured, authenticated when credentials are set), or
/// as <c>.eml</c> files into the pickup folder (the out-of-the-box sink). Every mail carries a <c>Message-ID</c> derived
/// from its delivery id, so a mail sent twice (see the app README's duplicate window) is recognizable as one by servers
/// and clients that dedupe on it. Failures surface as MailKit's exceptions; <see cref="SmtpFailure"/> classifies them.
/// </summary>
internal sealed class MailSender(IOptions<MailSettings> options, TimeProvider timeProvider)
{
    private readonly MailSettings _settings = options.Value;

    public string MessageIdFor(string kind, Guid id) => $"<{kind}.{id:N}@{_settings.MessageIdDomain}>";

    public async Task SendAsync(string kind, Guid id, string from, IEnumerable<string> to, string subject, string content, CancellationToken cancellationToken)
    {
        using var message = Build(kind, id, from, to, subject, content);
        // A child of the handler's process span: the last hop of the mail's trace.
        using var activity = StartActivity(kind, id, message.To.Count);
        try
        {
            if (_settings.Delivery == MailDelivery.Pickup)
            {
                await WriteEmlAsync(message, kind, id, cancellationToken).ConfigureAwait(false);
                return;
            }

            await SendSmtpAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, SmtpFailure.Describe(ex));
            activity?.SetTag("error.type", ex.GetType().FullName);
            throw;
        }
    }

    private Activity? StartActivity(string kind, Guid id, int recipients)
    {
        var pickup = _settings.Delivery == MailDelivery.Pickup;
        var activity = Telemetry.Source.StartActivity(pickup ? "pickup write" : "smtp send", pickup ? ActivityKind.Internal : ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            if (!pickup)
            {
                activity.SetTag("server.address", _settings.Smtp.Host);
                activity.SetTag("server.port", _settings.Smtp.Port);
                activity.SetTag("network.protocol.name", "smtp");
            }

            activity.SetTag("postbox.mail.kind", kind);
            activity.SetTag("postbox.mail.delivery_id", id.ToString());
            activity.SetTag("postbox.mail.recipients", recipients);
        }

        return activity;
    }

    private async Task SendSmtpAsync(MimeMessage message, CancellationToken cancellationToken)
    {
        var smtp = _settings.Smtp;
        using var timeout = new CancellationTokenSource(smtp.Timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var client = new SmtpClient { Timeout = (int)smtp.Timeout.TotalMilliseconds };
        await client.ConnectAsync(smtp.Host, smtp.Port, smtp.EffectiveSecurity, linked.Token).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(smtp.UserName))
        {
            // Start-up refuses credentials over a connection that may stay unencrypted unless AllowInsecureAuth; this
            // re-checks the connection actually made, so a STARTTLS downgrade cannot leak them either.
            if (!client.IsSecure && !smtp.AllowInsecureAuth)
            {
                throw new MailKit.Security.AuthenticationException("The SMTP connection is not encrypted; the credentials were not sent (Mail:Smtp:AllowInsecureAuth is off).");
            }

            await client.AuthenticateAsync(smtp.UserName, smtp.Password ?? string.Empty, linked.Token).ConfigureAwait(false);
        }

        await client.SendAsync(message, linked.Token).ConfigureAwait(false);
        // The server accepted the mail: a failing QUIT must not turn it into a failed (and retried) send.
        try
        {
            await client.DisconnectAsync(quit: true, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or MailKit.Net.Smtp.SmtpProtocolException or SmtpCommandException)
        {
            // Nothing to do: the connection is closed by Dispose either way.
        }
    }

    private MimeMessage Build(string kind, Guid id, string from, IEnumerable<string> to, string subject, string content)
    {
        // The addresses were validated (one mailbox each) when the request was accepted.
        var message = new MimeMessage { Subject = subject, Date = timeProvider.GetUtcNow() };
        message.From.Add(MailboxAddress.Parse(from));
        foreach (var recipient in to)
        {
            message.To.Add(MailboxAddress.Parse(recipient));
        }

        // Named as System.Net.Mail wrote it (MimeKit would write "Message-Id"), for whoever greps the sink. MimeMessage's
        // constructor already added a random "Message-Id": remove it, or the mail carries two and receivers (and the
        // fault run's sink) dedupe by the random one, which differs on every attempt.
        while (message.Headers.Contains(HeaderId.MessageId))
        {
            message.Headers.Remove(HeaderId.MessageId);
        }

        message.Headers.Add("Message-ID", MessageIdFor(kind, id));
        var body = new TextPart(TextFormat.Plain);
        body.SetText(System.Text.Encoding.UTF8, content);
        // Readable in the .eml file and on the wire: 7bit when the text allows it, else quoted-printable, never base64.
        body.ContentTransferEncoding = content.All(c => c < 128) && !HasLongLine(content) ? ContentEncoding.SevenBit : ContentEncoding.QuotedPrintable;
        message.Body = body;
        return message;
    }

    // RFC 5322: a line is at most 998 characters; longer ones need an encoding that can wrap them.
    private static bool HasLongLine(string text) => text.Split('\n').Any(line => line.TrimEnd('\r').Length > 998);

    /// <summary>
    /// Writes the mail into a private file first and moves it into the pickup folder, so whoever watches the folder never
    /// reads a half-written file.
    /// </summary>
    private async Task WriteEmlAsync(MimeMessage message, string kind, Guid id, CancellationToken cancellationToken)
    {
        var folder = Path.GetFullPath(_settings.PickupDirectory);
        var staging = Path.Combine(folder, ".staging");
        Directory.CreateDirectory(staging);
        var temporary = Path.Combine(staging, Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            // CRLF as on the wire (MimeKit's default follows the platform), so the file is a standard .eml everywhere.
            var format = FormatOptions.Default.Clone();
            format.NewLineFormat = NewLineFormat.Dos;
            await message.WriteToAsync(format, temporary, cancellationToken).ConfigureAwait(false);
            var name = string.Create(CultureInfo.InvariantCulture, $"{timeProvider.GetUtcNow():yyyyMMdd-HHmmss-fff}-{kind}-{id:N}.eml");
            File.Move(temporary, Path.Combine(folder, name));
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
