namespace Postbox.Retry;

internal sealed class ExponentialRetryPolicy : RetryPolicy
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private readonly double _factor;
    private readonly double _jitter;

    public ExponentialRetryPolicy(TimeSpan initial, TimeSpan max, double factor, double jitter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1.0);
        if (jitter is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(jitter), jitter, "Jitter must be in [0, 1).");
        }

        (_initial, _max, _factor, _jitter) = (initial, max, factor, jitter);
    }

    public override TimeSpan GetDelay(int failedAttempts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempts, 1);
        // Exponent capped so the double never overflows; the cap below bounds the result anyway.
        var raw = _initial.TotalMilliseconds * Math.Pow(_factor, Math.Min(failedAttempts - 1, 64));
        var capped = Math.Min(raw, _max.TotalMilliseconds);
#pragma warning disable CA5394 // Jitter only spreads retries; it needs no cryptographic randomness.
        var jittered = capped * (1 + (_jitter * ((Random.Shared.NextDouble() * 2) - 1)));
#pragma warning restore CA5394
        return TimeSpan.FromMilliseconds(Math.Clamp(jittered, 0, _max.TotalMilliseconds));
    }
}
