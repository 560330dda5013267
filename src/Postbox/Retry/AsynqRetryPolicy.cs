namespace Postbox.Retry;

internal sealed class AsynqRetryPolicy : RetryPolicy
{
    public override TimeSpan GetDelay(int failedAttempts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempts, 1);
        double n = failedAttempts - 1;
#pragma warning disable CA5394 // Jitter only spreads retries; it needs no cryptographic randomness.
        var seconds = Math.Pow(n, 4) + 15 + (Random.Shared.Next(30) * (n + 1));
#pragma warning restore CA5394
        return TimeSpan.FromSeconds(seconds);
    }
}
