using Microsoft.Extensions.Logging;

namespace Postbox.Consumers;

/// <summary>
/// Claims due retries from the inbox under a lease and runs them on their handler's free slots. Retries never go
/// back through the broker: the inbox row holds the payload, so they survive restarts of both worker and broker.
/// </summary>
internal sealed class RetryScheduler
{
    private readonly IInboxStore _store;
    private readonly MessageProcessor _processor;
    private readonly Dictionary<string, HandlerWorker> _workers;
    private readonly ConsumerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly string _owner;
    private readonly TimeSpan _lease;
    private readonly FailureLogLimiter _limiter;
    private readonly RetryWakeup _wakeup;
    private readonly string[] _ordered;
    private readonly string[] _deadBlocking;

    public RetryScheduler(IInboxStore store, MessageProcessor processor, IReadOnlyList<HandlerWorker> workers, ConsumerOptions options,
        string owner, TimeProvider timeProvider, ILogger logger, FailureLogLimiter limiter, RetryWakeup wakeup)
    {
        (_store, _processor, _options, _owner, _timeProvider, _logger) = (store, processor, options, owner, timeProvider, logger);
        (_limiter, _wakeup) = (limiter, wakeup);
        _workers = workers.ToDictionary(w => w.Handler.ConsumerName, StringComparer.Ordinal);
        // Long enough for a claimed retry to wait for a slot and run to its timeout, even during a shutdown.
        var longest = workers.Count == 0 ? TimeSpan.Zero : workers.Max(w => w.Handler.Options.Timeout);
        _lease = (2 * longest) + options.ShutdownTimeout + TimeSpan.FromMinutes(1);
        _ordered = [.. workers.Where(w => w.Handler.OrdersByKey).Select(w => w.Handler.ConsumerName)];
        _deadBlocking = [.. workers.Where(w => w.Handler.OrdersByKey && w.Handler.Options.DeadKeyPolicy == Relay.DeadKeyPolicy.Block)
            .Select(w => w.Handler.ConsumerName)];
    }

    /// <summary>
    /// Looks for due retries now rather than at the next poll: a keyed retry finished, so the next parked message of
    /// its key may be claimable; without this a parked chain would drain at one message per poll interval.
    /// </summary>
    public void Wake() => _wakeup.Schedule(_timeProvider.GetUtcNow());

    public async Task RunAsync(Func<bool> isPaused, CancellationToken stopIntake, CancellationToken abort, Func<CancellationToken, Task>? refreshPauses = null)
    {
        var failures = 0;
        // Idle, the poll slows from RetryPollInterval to IdleRetryPollInterval (doubling after each empty claim): an
        // idle worker costs one query every few seconds. Retries this process schedules wake it at their due time.
        var interval = _options.RetryPollInterval;
        while (!stopIntake.IsCancellationRequested)
        {
            var claimed = 0;
            var limit = 0;
            try
            {
                if (!isPaused())
                {
                    // The store's pauses, read again when stale: a consumer paused meanwhile gets none of its retries.
                    if (refreshPauses is not null)
                    {
                        await refreshPauses(stopIntake).ConfigureAwait(false);
                    }

                    (claimed, limit) = await ClaimAndDispatchAsync(stopIntake, abort).ConfigureAwait(false);
                }

                failures = 0;
            }
            catch (OperationCanceledException) when (stopIntake.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(200 * Math.Pow(2, failures++), 10_000));
                var reason = FailureReason.Describe(ex);
                if (_limiter.ShouldLog("retry scheduler", reason))
                {
                    ConsumerLog.RetryClaimFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, reason, delay);
                }

                await Task.Delay(delay, _timeProvider, stopIntake).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            if (claimed > 0 && claimed >= limit)
            {
                continue; // More may be due.
            }

            interval = claimed > 0 || limit == 0 ? _options.RetryPollInterval : Next(interval);
            if (await _wakeup.WaitAsync(interval, stopIntake).ConfigureAwait(false))
            {
                interval = _options.RetryPollInterval;
            }
        }
    }

    private TimeSpan Next(TimeSpan interval)
    {
        var idle = _options.IdleRetryPollInterval < _options.RetryPollInterval ? _options.RetryPollInterval : _options.IdleRetryPollInterval;
        return TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, idle.Ticks));
    }

    private async Task<(int Claimed, int Limit)> ClaimAndDispatchAsync(CancellationToken stopIntake, CancellationToken abort)
    {
        // Only consumers with a free slot, and no more than the free slots: a claimed retry should start at once.
        var consumers = new List<string>();
        var free = 0;
        foreach (var (name, worker) in _workers)
        {
            var count = worker.Slots.CurrentCount;
            // A consumer paused in the store (IPostboxPauses) runs none of its retries until it is resumed.
            if (count > 0 && !worker.StorePaused)
            {
                consumers.Add(name);
                free += count;
            }
        }

        var limit = Math.Min(free, _options.RetryBatchSize);
        if (limit == 0)
        {
            return (0, 0);
        }

        var now = _timeProvider.GetUtcNow();
        var retries = await _store.ClaimRetriesAsync(new RetryClaimRequest(consumers, _owner, limit, now, now + _lease)
        {
            OrderedConsumers = _ordered,
            DeadBlockingConsumers = _deadBlocking,
        }, stopIntake).ConfigureAwait(false);
        for (var i = 0; i < retries.Count; i++)
        {
            var retry = retries[i];
            var worker = _workers[retry.Consumer];
            try
            {
                await worker.Slots.WaitAsync(stopIntake).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                for (var j = i; j < retries.Count; j++)
                {
                    await ReleaseAsync(retries[j]).ConfigureAwait(false);
                }

                throw;
            }

            worker.Track(RunRetryAsync(worker, retry, abort));
        }

        return (retries.Count, limit);
    }

    private async Task RunRetryAsync(HandlerWorker worker, InboxRetry retry, CancellationToken abort)
    {
        await Task.Yield();
        try
        {
            var delivery = new Delivery(retry.MessageId, retry.Topic, retry.Key, retry.Type, retry.Payload, retry.Headers,
                Redelivered: true, Attempt: retry.Attempts + 1, Owner: _owner);
            var outcome = await _processor.ProcessAsync(worker.Handler, delivery, abort).ConfigureAwait(false);
            if (outcome == AttemptOutcome.HandedBack)
            {
                await ReleaseAsync(retry).ConfigureAwait(false);
            }
            else if (retry.Key is not null && worker.Handler.OrdersByKey)
            {
                Wake();
            }
        }
#pragma warning disable CA1031 // The inbox is unreachable: the lease expires and the retry is claimed again.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var reason = FailureReason.Describe(ex);
            if (_limiter.ShouldLog(retry.Consumer + " (inbox)", reason))
            {
                ConsumerLog.InboxUnavailable(_logger, FailureReason.IsExpected(ex) ? null : ex, retry.MessageId, retry.Consumer, reason);
            }

            await ReleaseAsync(retry).ConfigureAwait(false);
        }
        finally
        {
            worker.Slots.Release();
        }
    }

    private async Task ReleaseAsync(InboxRetry retry)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10), _timeProvider);
            var now = _timeProvider.GetUtcNow();
            await _store.ReleaseRetryAsync(retry.MessageId, retry.Consumer, _owner, now, timeout.Token).ConfigureAwait(false);
            _wakeup.Schedule(now);
        }
#pragma warning disable CA1031 // Best effort: the lease expires anyway.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ConsumerLog.ReleaseFailed(_logger, ex, retry.MessageId, retry.Consumer);
        }
    }
}
