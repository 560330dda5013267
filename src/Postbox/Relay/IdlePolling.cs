using Postbox.Threading;

namespace Postbox.Relay;

/// <summary>
/// The relay's wait between empty claims. With a cross-process wake-up channel established (LISTEN/NOTIFY), every
/// committed message wakes the relay, so the poll is only the safety net for what becomes due by time alone: each
/// empty wait doubles, from <see cref="RelayOptions.PollInterval"/> up to <see cref="RelayOptions.IdlePollInterval"/>.
/// Without such a channel the poll is how other processes' messages are found, and it stays at the poll interval.
/// </summary>
/// <remarks>
/// Any sign of work (a wake-up, a claim that found something) starts again at the poll interval, for
/// <see cref="SteadyWaits"/> waits before the first doubling: producers coalesce NOTIFYs (one notifying transaction per
/// few milliseconds and process), so a message committed some time after the notification that covered it carries no
/// wake-up of its own, and it is found within the poll interval while traffic is recent, as before the back-off
/// existed. A retry this relay scheduled keeps the poll at the poll interval until it is due (and its settle wakes the
/// loop), so the relay's own retries are never late by more than the poll interval; what becomes due by time elsewhere
/// (a scheduled <see cref="OutboxMessage.AvailableAt"/>, another relay's retry, an expired lease of a relay that died)
/// is seen within the idle interval.
/// Called from the claim loop only, apart from <see cref="RetryScheduled"/>, which settles call from any thread.
/// </remarks>
internal sealed class IdlePolling
{
    private readonly TimeSpan _poll;
    private readonly TimeSpan _idle;
    private readonly TimeProvider _timeProvider;
    private TimeSpan _next;
    private int _steadyLeft;
    private long _retriesPendingUntilTicks;

    /// <summary>Empty waits at the poll interval after a sign of work, before the wait starts doubling.</summary>
    public const int SteadyWaits = 10;

    /// <summary>Creates the schedule.</summary>
    /// <param name="poll">The shortest wait (<see cref="RelayOptions.PollInterval"/>).</param>
    /// <param name="idle">The longest wait while idle (<see cref="RelayOptions.IdlePollInterval"/>); a value below
    /// <paramref name="poll"/> means <paramref name="poll"/>.</param>
    /// <param name="timeProvider">The clock that retry times are compared with.</param>
    public IdlePolling(TimeSpan poll, TimeSpan idle, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        (_poll, _idle, _timeProvider) = (poll, idle < poll ? poll : idle, timeProvider);
        Reset();
    }

    /// <summary>Work was seen: the next <see cref="SteadyWaits"/> waits are the poll interval again.</summary>
    public void Reset()
    {
        _steadyLeft = SteadyWaits;
        _next = _poll >= _idle / 2 ? _idle : _poll * 2;
    }

    /// <summary>This relay scheduled a retry due at <paramref name="dueAt"/>: poll at the poll interval until then.</summary>
    /// <param name="dueAt">When the retry becomes due.</param>
    public void RetryScheduled(DateTimeOffset dueAt) => InterlockedMax.Raise(ref _retriesPendingUntilTicks, dueAt.UtcTicks);

    /// <summary>The wait after an empty claim, and the schedule's step to the next one.</summary>
    /// <param name="wakeupsArrive">Whether a cross-process wake-up channel is established right now.</param>
    /// <returns>How long to wait for a wake-up before claiming again.</returns>
    public TimeSpan Next(bool wakeupsArrive)
    {
        if (!wakeupsArrive || _timeProvider.GetUtcNow().UtcTicks < Interlocked.Read(ref _retriesPendingUntilTicks))
        {
            Reset();
            return _poll;
        }

        if (_steadyLeft > 0)
        {
            _steadyLeft--;
            return _poll;
        }

        var wait = _next;
        _next = wait >= _idle / 2 ? _idle : wait * 2;
        return wait;
    }
}
