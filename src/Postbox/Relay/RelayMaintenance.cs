using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using Postbox.Diagnostics;
using Postbox.Storage;

namespace Postbox.Relay;

/// <summary>The relay's periodic chores: deleting delivered rows past retention and refreshing the oldest-pending gauge.</summary>
internal sealed class RelayMaintenance
{
    private readonly IOutboxStore _store;
    private readonly RelayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public RelayMaintenance(IOutboxStore store, RelayOptions options, TimeProvider timeProvider, PostboxMetrics metrics, ILogger logger)
    {
        (_store, _options, _timeProvider, Metrics, _logger) = (store, options, timeProvider, metrics, logger);
    }

    public PostboxMetrics Metrics { get; }

    public Task RunAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(CleanupLoopAsync(stoppingToken), MonitorLoopAsync(stoppingToken));

    /// <summary>Deletes delivered rows older than the retention window, one bounded batch per statement.</summary>
    public async Task<int> CleanupOnceAsync(CancellationToken cancellationToken)
    {
        var cutoff = _timeProvider.GetUtcNow() - _options.DeliveredRetention;
        var total = 0;
        int deleted;
        do
        {
            deleted = await _store.PurgeDeliveredAsync(cutoff, _options.CleanupBatchSize, cancellationToken).ConfigureAwait(false);
            total += deleted;
        }
        while (deleted >= _options.CleanupBatchSize && !cancellationToken.IsCancellationRequested);

        return total;
    }

    private async Task CleanupLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.CleanupInterval, _timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var deleted = await CleanupOnceAsync(stoppingToken).ConfigureAwait(false);
                    if (deleted > 0)
                    {
                        Log.CleanupDeleted(_logger, deleted);
                    }
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    Log.CleanupFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, FailureReason.Describe(ex));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Normal shutdown.
        }
    }

    private async Task MonitorLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.MonitorInterval, _timeProvider);
        try
        {
            do
            {
                try
                {
                    Metrics.SetOldestPending(await _store.GetOldestPendingAsync(stoppingToken).ConfigureAwait(false));
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    Log.MonitorFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, FailureReason.Describe(ex));
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Normal shutdown.
        }
    }
}
