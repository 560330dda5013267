using Microsoft.Extensions.Logging;

namespace Postbox.Consumers;

/// <summary>Deletes processed inbox rows older than <see cref="ConsumerOptions.InboxRetention"/>, in bounded batches.</summary>
internal sealed class InboxCleanup(IInboxStore store, ConsumerOptions options, TimeProvider timeProvider, ILogger logger)
{
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        if (options.InboxRetention is not { } retention)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                int deleted;
                do
                {
                    deleted = await store.PurgeProcessedAsync(timeProvider.GetUtcNow() - retention, options.CleanupBatchSize, stoppingToken).ConfigureAwait(false);
                    if (deleted > 0)
                    {
                        ConsumerLog.CleanupDeleted(logger, deleted);
                    }
                }
                while (deleted >= options.CleanupBatchSize && !stoppingToken.IsCancellationRequested);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Cleanup is housekeeping: log and try again at the next interval.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ConsumerLog.CleanupFailed(logger, FailureReason.IsExpected(ex) ? null : ex, FailureReason.Describe(ex));
            }

            await Task.Delay(options.CleanupInterval, timeProvider, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
