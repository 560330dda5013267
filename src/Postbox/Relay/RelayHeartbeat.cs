namespace Postbox.Relay;

/// <summary>
/// When this process's relay loop last showed it is alive: it beats at the top of every claim-loop turn and every
/// transport probe, so a loop stuck in a claim, a settle or a wait for in-flight budget stops beating. Read by the
/// relay health check.
/// </summary>
internal sealed class RelayHeartbeat(TimeProvider timeProvider)
{
    private const long NotRunning = long.MinValue;
    private long _last = NotRunning;

    /// <summary>Records that the loop is alive now.</summary>
    public void Beat() => Volatile.Write(ref _last, timeProvider.GetTimestamp());

    /// <summary>Records that the loop ended (host stopping or the relay failed).</summary>
    public void Stopped() => Volatile.Write(ref _last, NotRunning);

    /// <summary>Time since the last beat, or <see langword="null"/> when the loop is not running.</summary>
    public TimeSpan? SinceLastBeat
    {
        get
        {
            var last = Volatile.Read(ref _last);
            return last == NotRunning ? null : timeProvider.GetElapsedTime(last);
        }
    }
}
