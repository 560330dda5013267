using System.Data.Common;
using System.Net.Sockets;
using Postbox.Transport;

namespace Postbox.Consumers;

/// <summary>
/// What the logs say about a failure: one line of text, and whether it is expected (a dependency that is down or
/// slow — database, broker, mail server, network — which retries are for) or unexpected (a bug or bad data, worth
/// a stack trace).
/// </summary>
internal static class FailureReason
{
    private const int MaxLength = 300;

    /// <summary>Type and message of the exception and of its causes, on one line, bounded.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var text = $"{exception.GetType().Name}: {exception.Message}";
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            text += $" ({inner.GetType().Name}: {inner.Message})";
        }

        text = text.ReplaceLineEndings(" ");
        return text.Length > MaxLength ? text[..MaxLength] + "…" : text;
    }

    /// <summary>
    /// Whether the exception, or one of its causes, is an outage of something the handler depends on: time-outs,
    /// I/O and socket errors, transient database errors, HTTP and mail transport errors, an unavailable transport.
    /// </summary>
    public static bool IsExpected(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException or IOException or SocketException or HttpRequestException or TransportException
                or DbException { IsTransient: true })
            {
                return true;
            }

            // Mail clients (System.Net.Mail, MailKit) without a reference to either: their errors are the mail server's answers.
            var ns = e.GetType().Namespace ?? string.Empty;
            if (ns.StartsWith("System.Net.Mail", StringComparison.Ordinal) || ns.StartsWith("MailKit", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
