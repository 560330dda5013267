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

    /// <summary>
    /// Sends one mail. <paramref name="beforeEndOfData"/>, when given, runs after the last byte of the mail and before the
    /// end of data is sent over SMTP (not for <c>.eml</c> files); if it throws, the mail is not sent. When this side stops
    /// waiting for the answer after it ran (time-out, cancellation) <see cref="MailUnconfirmedException"/> is thrown: the
    /// server may have the mail. A server's answer (<see cref="SmtpCommandException"/>) or its hanging up without one is
    /// never unconfirmed.
    /// </summary>
    public async Task SendAsync(string kind, Guid id, string from, IEnumerable<string> to, string subject, string content,
        Func<CancellationToken, Task>? beforeEndOfData, CancellationToken cancellationToken)
    {
        var body = new GuardedTextPart(beforeEndOfData ?? (_ => Task.CompletedTask));
        using var message = Build(kind, id, from, to, subject, content, body);
        // A child of the handler's process span: the last hop of the mail's trace.
        using var activity = StartActivity(kind, id, message.To.Count);
        try
        {
            if (_settings.Delivery == MailDelivery.Pickup)
            {
                await WriteEmlAsync(message, kind, id, cancellationToken).ConfigureAwait(false);
                return;
            }

            await SendSmtpAsync(message, body, cancellationToken).ConfigureAwait(false);
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

    private async Task SendSmtpAsync(MimeMessage message, GuardedTextPart body, CancellationToken cancellationToken)
    {
        var smtp = _settings.Smtp;
        using var timeout = new CancellationTokenSource(smtp.Timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var client = new GuardedSmtpClient(body) { Timeout = (int)smtp.Timeout.TotalMilliseconds };
        await client.ConnectAsync(smtp.Host, smtp.Port, smtp.EffectiveSecurity, linked.Token).ConfigureAwait(false);
        client.DisableChunking();
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

        try
        {
            await client.SendAsync(message, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (body.EndOfDataHandedOver && ex is not SmtpCommandException && !ServerHungUp(ex))
        {
            var timedOut = timeout.IsCancellationRequested || ex is TimeoutException || ex.InnerException is TimeoutException;
            var why = timedOut ? $"no answer within {smtp.Timeout} (Mail:Smtp:Timeout)" : ex.Message.TrimEnd('.');
            throw new MailUnconfirmedException($"No answer from the SMTP server after the end of the mail was sent: {why}.", ex);
        }

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

    /// <summary>
    /// The server closed or reset the connection instead of answering the end of data. A server takes responsibility for a
    /// mail only with its reply (RFC 5321, section 6.1), so this is a failure to retry like any other, not an unconfirmed
    /// send. Only when this side stops waiting (time-out, shutdown, a killed worker) does the server possibly have the mail.
    /// </summary>
    private static bool ServerHungUp(Exception ex) =>
        ex is MailKit.Net.Smtp.SmtpProtocolException
        || ex is IOException { InnerException: System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted or System.Net.Sockets.SocketError.Shutdown } };

    private MimeMessage Build(string kind, Guid id, string from, IEnumerable<string> to, string subject, string content, TextPart body)
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
