using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace Postbox.Service.Mail;

/// <summary>Turns a send failure into what the error history keeps and decides whether a retry can help.</summary>
internal static class SmtpFailure
{
    private const int MaxLength = 2000;

    /// <summary>
    /// A 5xx answer (unknown mailbox, message refused, authentication required) and refused credentials are permanent:
    /// retrying sends the same mail to the same answer. Everything else (server down, 4xx, connection lost, time-outs,
    /// TLS handshake) is worth retrying.
    /// </summary>
    public static bool IsPermanent(Exception exception) => exception switch
    {
        SmtpCommandException command => (int)command.StatusCode is >= 500 and < 600,
        AuthenticationException => true,
        // MailKit's name for "530 Authentication required" to MAIL FROM: no credentials configured for a server that wants them.
        ServiceNotAuthenticatedException => true,
        _ => false,
    };

    /// <summary>
    /// The error text saved in the history: the SMTP status and the server's answer, or the failure's type and message,
    /// with the inner cause. Never a credential: MailKit's messages carry the server's answer, not what was sent.
    /// </summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var text = exception switch
        {
            SmtpCommandException command => $"SMTP {(int)command.StatusCode} {command.StatusCode}: {command.Message}",
            AuthenticationException auth => $"SMTP authentication failed: {auth.Message}",
            ServiceNotAuthenticatedException notAuthenticated => $"SMTP 530 authentication required (no credentials configured: Mail:Smtp:UserName): {notAuthenticated.Message}",
            SmtpProtocolException protocol => $"SMTP protocol error (connection lost?): {protocol.Message}",
            ServiceNotConnectedException => "SMTP connection lost.",
            SocketException socket => $"SMTP server unreachable ({socket.SocketErrorCode}): {socket.Message}",
            _ => $"SMTP send failed: {exception.GetType().Name}: {exception.Message}",
        };
        if (exception.InnerException is { } inner)
        {
            text += inner is SmtpCommandException innerCommand
                ? $" (SMTP {(int)innerCommand.StatusCode}: {innerCommand.Message})"
                : $" ({inner.GetType().Name}: {inner.Message})";
        }

        return text.Length > MaxLength ? text[..MaxLength] : text;
    }
}
