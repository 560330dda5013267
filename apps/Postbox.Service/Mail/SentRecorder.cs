using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Postbox.Service.Hosting;

namespace Postbox.Service.Mail;

/// <summary>
/// Saves the record of a mail the SMTP server accepted. Once the server said yes, the mail is out and cannot be taken
/// back: the record must survive a database outage, or the next attempt sends the mail again. So it is written in its
/// own transaction (the inbox transaction may have died with the database connection), retried with backoff for up to
/// <see cref="WorkerSettings.SentRecordTimeout"/>, and until it is saved this process remembers the mail as sent:
/// an attempt of the same mail in this process saves the record instead of sending.
/// </summary>
internal sealed class SentRecorder(IOptions<WorkerSettings> worker, TimeProvider timeProvider, ILogger<SentRecorder> logger)
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StatementTimeout = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<(string Kind, Guid Id), DateTimeOffset> _unsaved = new();

    /// <summary>Whether this process knows the mail was accepted by the server but has not saved that yet.</summary>
    public bool IsSentButUnsaved(string kind, Guid id) => _unsaved.ContainsKey((kind, id));

    /// <summary>
    /// Runs <paramref name="save"/> until it succeeds or <see cref="WorkerSettings.SentRecordTimeout"/> passes (then
    /// throws <see cref="SentRecordException"/>; the mail stays remembered as sent in this process). Not cancelled by
    /// the attempt's token: a shutdown or a handler time-out must not turn a sent mail into a re-send.
    /// </summary>
    public async Task SaveAsync(string kind, Guid id, Func<CancellationToken, Task> save)
    {
        ArgumentNullException.ThrowIfNull(save);
        var key = (kind, id);
        _unsaved.TryAdd(key, timeProvider.GetUtcNow());
        var limit = worker.Value.SentRecordTimeout;
        var started = timeProvider.GetTimestamp();
        var delay = FirstDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var timeout = new CancellationTokenSource(StatementTimeout, timeProvider);
                await save(timeout.Token).ConfigureAwait(false);
                _unsaved.TryRemove(key, out _);
                if (attempt > 1)
                {
                    ServiceLog.SentRecordSaved(logger, kind, id, attempt, timeProvider.GetElapsedTime(started));
                }

                return;
            }
#pragma warning disable CA1031 // Any failure to save is retried until the limit: the mail is already out.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                var elapsed = timeProvider.GetElapsedTime(started);
                if (elapsed >= limit)
                {
                    ServiceLog.SentRecordLost(logger, kind, id, limit, Reason(ex));
                    throw new SentRecordException($"The {kind} {id} was accepted by the SMTP server, but its sent record could not be saved within {limit}.", ex);
                }

                if (attempt == 1)
                {
                    ServiceLog.SentRecordRetrying(logger, kind, id, limit, Reason(ex));
                }

                var wait = delay < limit - elapsed ? delay : limit - elapsed;
                await Task.Delay(wait, timeProvider).ConfigureAwait(false);
                delay = delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
            }
        }
    }

    private static string Reason(Exception ex) =>
        ex.InnerException is { } inner ? $"{ex.GetType().Name}: {ex.Message} ({inner.GetType().Name}: {inner.Message})" : $"{ex.GetType().Name}: {ex.Message}";
}

/// <summary>A mail went out but its record could not be saved in time; the attempt is retried, and this process will not send it again.</summary>
internal sealed class SentRecordException : Exception
{
    public SentRecordException() { }

    public SentRecordException(string message) : base(message) { }

    public SentRecordException(string message, Exception innerException) : base(message, innerException) { }
}
