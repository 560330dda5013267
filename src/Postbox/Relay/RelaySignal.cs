namespace Postbox.Relay;

/// <summary>
/// Wakes the relay of this process: raised right after a local enqueue and by cross-process
/// notifications. Coalescing: many signals between two claims cause one wake-up.
/// </summary>
internal sealed class RelaySignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);
    private readonly TimeProvider _timeProvider;
    private int _pending;
    private long _lastSignalTimestamp;

    /// <summary>Creates a signal using <paramref name="timeProvider"/> for timestamps and waits.</summary>
    /// <param name="timeProvider">The clock.</param>
    public RelaySignal(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
    }

    /// <summary>Time elapsed since the last signal (<see cref="TimeSpan.MaxValue"/> if never signalled).</summary>
    public TimeSpan SinceLastSignal
    {
        get
        {
            var last = Volatile.Read(ref _lastSignalTimestamp);
            return last == 0 ? TimeSpan.MaxValue : _timeProvider.GetElapsedTime(last);
        }
    }

    /// <summary>Wakes the relay (cheap and non-blocking; safe from any thread).</summary>
    public void Notify()
    {
        Volatile.Write(ref _lastSignalTimestamp, _timeProvider.GetTimestamp());
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _semaphore.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _semaphore.Dispose();

    /// <summary>Waits for a signal or <paramref name="timeout"/>.</summary>
    /// <param name="timeout">Longest wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when signalled, <see langword="false"/> on timeout.</returns>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_semaphore.Wait(0, CancellationToken.None))
        {
            Volatile.Write(ref _pending, 0);
            return true;
        }

        using var timeoutSource = new CancellationTokenSource(timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            await _semaphore.WaitAsync(linked.Token).ConfigureAwait(false);
            Volatile.Write(ref _pending, 0);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
