namespace Postbox.Relay;

/// <summary>
/// Bounds the messages a relay holds between claim and settle (<see cref="RelayOptions.BatchSize"/> ×
/// <see cref="RelayOptions.MaxInFlightBatches"/>), rather than the number of batches: under a trickle of messages the
/// relay claims many small batches, and a batch holds its place until the broker confirms it and the settle
/// commits (tens of milliseconds of fsyncs), so a cap of a few batches made new messages queue behind the
/// confirms of old ones. Memory stays bounded by the same number of messages as before.
/// </summary>
internal sealed class InFlightBudget : IDisposable
{
    private readonly int _capacity;
    private readonly SemaphoreSlim _returned = new(0, int.MaxValue);
    private int _held;

    public InFlightBudget(int capacity) => _capacity = capacity;

    /// <summary>Waits until part of the budget is free and returns how many messages may be claimed.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async ValueTask<int> WaitAvailableAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var available = _capacity - Volatile.Read(ref _held);
            if (available > 0)
            {
                return available;
            }

            // A return between the check and this wait has released the semaphore, so the wait ends at once.
            await _returned.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Records <paramref name="count"/> claimed messages.</summary>
    public void Take(int count) => Interlocked.Add(ref _held, count);

    /// <summary>Gives back the budget of <paramref name="count"/> settled messages.</summary>
    public void Return(int count)
    {
        Interlocked.Add(ref _held, -count);
        if (_returned.CurrentCount == 0)
        {
            _returned.Release();
        }
    }

    public void Dispose() => _returned.Dispose();
}
