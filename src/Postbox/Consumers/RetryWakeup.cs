namespace Postbox.Consumers;

/// <summary>
/// Lets the retry scheduler sleep long when idle (one query every <see cref="ConsumerOptions.IdleRetryPollInterval"/>)
/// and still run a retry this process scheduled on time: recording a failure tells it when the retry is due.
/// Retries scheduled by other processes are found by the slow poll.
/// </summary>
internal sealed class RetryWakeup(TimeProvider timeProvider)
{
    // Due times kept, bounded: beyond that many, the latest are left to the slow poll.
    private const int MaxKnown = 10_000;

    private readonly Lock _lock = new();
    // Every known due time, not only the earliest: after the earliest wakes the scheduler, the next one must too.
    private readonly SortedSet<DateTimeOffset> _due = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A retry is due at <paramref name="dueAt"/> (or now, for a handed-back one).</summary>
    public void Schedule(DateTimeOffset dueAt)
    {
        TaskCompletionSource? changed = null;
        lock (_lock)
        {
            var earliest = _due.Count == 0 || dueAt < _due.Min;
            if (_due.Count < MaxKnown || dueAt < _due.Max)
            {
                _due.Add(dueAt);
                if (_due.Count > MaxKnown)
                {
                    _due.Remove(_due.Max);
                }
            }

            if (earliest)
            {
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        changed?.TrySetResult();
    }

    /// <summary>
    /// Waits <paramref name="maxDelay"/>, or less when a known retry falls due sooner. Returns <see langword="true"/>
    /// when woken for a known retry (the caller polls fast again).
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan maxDelay, CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetUtcNow() + maxDelay;
        while (!cancellationToken.IsCancellationRequested)
        {
            Task changed;
            TimeSpan delay;
            var now = timeProvider.GetUtcNow();
            lock (_lock)
            {
                if (_due.Count > 0 && _due.Min <= now)
                {
                    // One claim takes every retry due by now; later ones stay known.
                    _due.RemoveWhere(due => due <= now);
                    return true;
                }

                if (now >= deadline)
                {
                    return false;
                }

                changed = _changed.Task;
                var wake = _due.Count > 0 && _due.Min < deadline ? _due.Min : deadline;
                // Rounded up to whole milliseconds: timers truncate, and one that fires a fraction early would find
                // the retry not yet due.
                delay = TimeSpan.FromMilliseconds(Math.Ceiling((wake - now).TotalMilliseconds));
            }

            var timer = Task.Delay(delay, timeProvider, cancellationToken);
            if (await Task.WhenAny(timer, changed).ConfigureAwait(false) == timer)
            {
                // Fired (the loop checks what is due now) or cancelled (the loop ends).
                await timer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        return false;
    }
}
