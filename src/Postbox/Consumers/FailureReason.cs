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
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

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
    /// I/O and socket errors, transient database errors, SQLite's busy/locked (another connection holds the write lock
    /// past the busy timeout), HTTP and mail transport errors, an unavailable transport.
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

            // Microsoft.Data.Sqlite (not referenced by the core) leaves IsTransient false and ErrorCode generic (E_FAIL); its
            // SqliteErrorCode is SQLite's primary result code: SQLITE_BUSY (5) or SQLITE_LOCKED (6) is the file's lock held
            // by someone else past the busy timeout, SQLite's kind of outage. Read by name: a failure path, not a hot one.
            if (e is DbException && e.GetType() is { FullName: "Microsoft.Data.Sqlite.SqliteException" } type
                && type.GetProperty("SqliteErrorCode")?.GetValue(e) is SqliteBusy or SqliteLocked)
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
