using MailKit.Net.Smtp;
using MimeKit;
using MimeKit.Text;

namespace Postbox.Service.Mail;

/// <summary>
/// The mail's text body, which runs a callback after its last byte is written on the SMTP connection and before MailKit
/// sends the end of data (<c>CRLF.CRLF</c>): the one point after which the server may accept the mail without the client
/// learning so. The callback records that point (committed); if it throws, the end of data is never sent and the server
/// discards the mail. Armed only for the real transfer (<see cref="GuardedSmtpClient"/> arms it once a recipient was
/// accepted), so MailKit's size measurement and the <c>.eml</c> pickup never run it.
/// </summary>
internal sealed class GuardedTextPart(Func<CancellationToken, Task> beforeEndOfData) : TextPart(TextFormat.Plain)
{
    /// <summary>Set by the client when the next write is the message data.</summary>
    public bool Armed { get; set; }

    /// <summary>The callback completed: from here on the server may have accepted the mail.</summary>
    public bool EndOfDataHandedOver { get; private set; }

    public override async Task WriteToAsync(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        await base.WriteToAsync(options, stream, contentOnly, cancellationToken).ConfigureAwait(false);
        if (Armed)
        {
            Armed = false;
            await beforeEndOfData(cancellationToken).ConfigureAwait(false);
            EndOfDataHandedOver = true;
        }
    }

    public override void WriteTo(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        // The service sends asynchronously only; a synchronous transfer would skip the record, so it is refused.
        if (Armed)
        {
            throw new InvalidOperationException("The guarded body must be sent with SendAsync.");
        }

        base.WriteTo(options, stream, contentOnly, cancellationToken);
    }
}

/// <summary>
/// MailKit's client with the two adjustments the end-of-data record needs: it arms the <see cref="GuardedTextPart"/> once
/// the envelope is accepted (so only the transfer runs its callback), and it never uses CHUNKING (<c>BDAT</c>), where the
/// server takes the mail once the announced byte count has arrived, possibly before the callback could run.
/// </summary>
internal sealed class GuardedSmtpClient(GuardedTextPart body) : SmtpClient
{
    public void DisableChunking() => Capabilities &= ~(SmtpCapabilities.Chunking | SmtpCapabilities.BinaryMime);

    protected override void OnRecipientAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
    {
        base.OnRecipientAccepted(message, mailbox, response);
        body.Armed = true;
    }
}
