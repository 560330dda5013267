using System.Net.Mail;

namespace Postbox.Service.Mail;

/// <summary>Turns a send failure into what the error history keeps and decides whether a retry can help.</summary>
internal static class SmtpFailure
{
    private const int MaxLength = 2000;

    /// <summary>
    /// A 5xx answer (unknown mailbox, message refused) is permanent: retrying sends the same mail to the same answer.
    /// Everything else (server down, 4xx, time-outs) is worth retrying.
    /// </summary>
    public static bool IsPermanent(Exception exception) =>
        exception is SmtpException { StatusCode: >= (SmtpStatusCode)500 and < (SmtpStatusCode)600 };

    /// <summary>The error text saved in the history: type, SMTP status and message, with the inner cause. Never a credential.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var text = exception is SmtpException smtp
            ? $"SMTP {(int)smtp.StatusCode} {smtp.StatusCode}: {smtp.Message}"
            : $"{exception.GetType().Name}: {exception.Message}";
        if (exception.InnerException is { } inner)
        {
            text += $" ({inner.GetType().Name}: {inner.Message})";
        }

        return text.Length > MaxLength ? text[..MaxLength] : text;
    }
}
