using Microsoft.Extensions.Logging;

namespace Postbox.Consumers;

/// <summary>
/// Keeps the logs of an outage readable: each kind of failure (scope and reason) is logged individually a few times
/// per window; the rest are counted and summarised once per window ("mail-sender: 1,204 attempts failed in the last
/// 10 s: SmtpException: ..."). Without it, a 15 s mail-server outage under load wrote hundreds of thousands of lines.
/// </summary>
internal sealed class FailureLogLimiter : IDisposable
{
    // Reasons with ids in them must not grow the table without bound: beyond this many kinds, the rest share one.
    private const int MaxKinds = 100;
    private readonly Dictionary<(string Scope, string Reason), int> _counts = [];
    private readonly ILogger _logger;
    private readonly ITimer _timer;

    public FailureLogLimiter(TimeProvider timeProvider, ILogger logger, TimeSpan window, int individuallyPerWindow)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        (_logger, Window, IndividuallyPerWindow) = (logger, window, individuallyPerWindow);
        _timer = timeProvider.CreateTimer(_ => Flush(), null, window, window);
    }

    public TimeSpan Window { get; }

    public int IndividuallyPerWindow { get; }

    /// <summary>Counts one failure; <see langword="true"/> when it should be logged on its own line.</summary>
    public bool ShouldLog(string scope, string reason)
    {
        lock (_counts)
        {
            var key = (scope, reason);
            if (!_counts.TryGetValue(key, out var count) && _counts.Count >= MaxKinds)
            {
                key = (scope, "(other failures)");
                _counts.TryGetValue(key, out count);
            }

            _counts[key] = ++count;
            return count <= IndividuallyPerWindow;
        }
    }

    /// <summary>Writes one summary line per kind that went over the limit in the window that ends, and starts a new window.</summary>
    public void Flush()
    {
        List<KeyValuePair<(string Scope, string Reason), int>> over;
        lock (_counts)
        {
            over = [.. _counts.Where(c => c.Value > IndividuallyPerWindow)];
            _counts.Clear();
        }

        foreach (var ((scope, reason), count) in over)
        {
            ConsumerLog.FailuresSummarised(_logger, scope, count, Window, reason, count - IndividuallyPerWindow);
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
