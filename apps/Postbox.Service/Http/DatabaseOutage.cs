using Postbox.Service.Hosting;

namespace Postbox.Service.Http;

/// <summary>
/// Tracks whether the API currently finds the database unreachable, so an outage is logged once when it starts and once
/// when it ends (with how many requests were answered <c>503</c>), not once per request.
/// </summary>
internal sealed class DatabaseOutage(TimeProvider timeProvider, ILogger<DatabaseOutage> logger)
{
    private readonly Lock _lock = new();
    private DateTimeOffset? _since;
    private long _refused;
    private volatile bool _down;

    /// <summary>A request could not reach the database and is answered <c>503</c>.</summary>
    public void Unreachable(Exception exception, TimeSpan retryAfter)
    {
        bool first;
        lock (_lock)
        {
            first = _since is null;
            _since ??= timeProvider.GetUtcNow();
            _refused++;
            _down = true;
        }

        if (first)
        {
            ServiceLog.DatabaseUnreachable(logger, DatabaseFaults.Describe(exception), (int)retryAfter.TotalSeconds);
        }
    }

    /// <summary>A request used the database successfully.</summary>
    public void Reachable()
    {
        // The common case, every request while all is well: no lock.
        if (!_down)
        {
            return;
        }

        DateTimeOffset? since;
        long refused;
        lock (_lock)
        {
            (since, refused) = (_since, _refused);
            (_since, _refused, _down) = (null, 0, false);
        }

        if (since is { } start)
        {
            ServiceLog.DatabaseReachable(logger, timeProvider.GetUtcNow() - start, refused);
        }
    }
}
