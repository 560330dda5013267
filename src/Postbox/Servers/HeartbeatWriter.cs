using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using Postbox.Monitoring;

namespace Postbox.Servers;

/// <summary>
/// Writes one relay's or worker's heartbeat row, with the per-minute counts gathered since the last one: at start, every
/// heartbeat interval, and a delete (with the last counts) on a graceful stop. A failed write is logged as one line and
/// tried again at the next interval; it never stops the relay or the worker.
/// </summary>
/// <remarks>
/// Cost: one transaction per interval (two or three statements), plus every 10 minutes one transaction deleting rows
/// past their retention — by every writer, so the tables stay bounded without a dedicated cleaner.
/// </remarks>
internal sealed class HeartbeatWriter
{
    /// <summary>Heartbeat rows not refreshed for this long are deleted by any writer.</summary>
    public static readonly TimeSpan ServerRetention = TimeSpan.FromHours(1);

    /// <summary>Buckets older than this are deleted by any writer.</summary>
    public static readonly TimeSpan StatsRetention = TimeSpan.FromHours(24);

    // Far below both retentions, and rare enough to cost nothing next to the heartbeats (measured: the heartbeats of a
    // relay and a worker add about 0.2 transactions a second to an idle system; pruning every minute added 0.07 more).
    private static readonly TimeSpan PruneEvery = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan RemoveTimeout = TimeSpan.FromSeconds(5);

    private readonly IServerRegistry _registry;
    private readonly ServerHeartbeat _identity;
    private readonly ActivityCounters? _counters;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private DateTimeOffset _nextPrune = DateTimeOffset.MinValue;
    private int _failures;

    public HeartbeatWriter(IServerRegistry registry, string ownerId, ServerRole role, TimeSpan interval, IReadOnlyList<ServerHandler> handlers,
        ActivityCounters? counters, TimeProvider timeProvider, ILogger logger)
    {
        (_registry, _counters, _timeProvider, _logger) = (registry, counters, timeProvider, logger);
        var now = timeProvider.GetUtcNow();
        _identity = new ServerHeartbeat(ownerId, role, Environment.MachineName, Environment.ProcessId, now, now, interval, handlers);
    }

    /// <summary>The row as last written (its heartbeat time is the last attempt's).</summary>
    public ServerHeartbeat Identity => _identity;

    /// <summary>Beats until <paramref name="stoppingToken"/> fires; never throws for a failed write.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_identity.HeartbeatInterval, _timeProvider);
        try
        {
            do
            {
                await BeatOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Normal shutdown, whatever the interrupted write threw (a cancelled command is not always an
            // OperationCanceledException): the stop's delete follows.
        }
    }

    /// <summary>Writes the heartbeat (and the counts since the last one); prunes old rows at most every 10 minutes.</summary>
    public async Task BeatOnceAsync(CancellationToken cancellationToken)
    {
        var now = _timeProvider.GetUtcNow();
        var stats = _counters?.Take() ?? [];
        var written = false;
        try
        {
            await _registry.BeatAsync(_identity with { HeartbeatAt = now }, stats, cancellationToken).ConfigureAwait(false);
            written = true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            _failures++;
            ServerLog.HeartbeatFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, _identity.Role, _identity.OwnerId, FailureReason.Describe(ex),
                _identity.HeartbeatInterval);
            return;
        }
        finally
        {
            if (!written)
            {
                // Kept for the next heartbeat, or for the stop's delete.
                _counters?.Restore(stats);
            }
        }

        if (_failures > 0)
        {
            ServerLog.HeartbeatRecovered(_logger, _identity.Role, _identity.OwnerId, _failures);
            _failures = 0;
        }

        if (now >= _nextPrune)
        {
            _nextPrune = now + PruneEvery;
            try
            {
                await _registry.PruneAsync(now - ServerRetention, now - StatsRetention, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                ServerLog.PruneFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, FailureReason.Describe(ex));
            }
        }
    }

    /// <summary>On a graceful stop: deletes the row and writes the last counts, within a few seconds; a failure is logged.</summary>
    public async Task RemoveAsync()
    {
        var stats = _counters?.Take() ?? [];
        using var timeout = new CancellationTokenSource(RemoveTimeout, _timeProvider);
        try
        {
            await _registry.RemoveAsync(_identity.OwnerId, stats, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ServerLog.RemoveFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, _identity.Role, _identity.OwnerId, FailureReason.Describe(ex));
        }
    }
}
