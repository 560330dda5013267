namespace Postbox.Retry;

/// <summary>
/// Decides how long to wait before the next attempt. The attempt limit is configured separately
/// (<see cref="Relay.RelayOptions.MaxAttempts"/>, <see cref="OutboxMessage.MaxAttempts"/>).
/// </summary>
/// <remarks>
/// Bound from configuration as <c>Asynq</c>, <c>Fixed(00:00:05)</c> or
/// <c>Exponential(00:00:01, 00:05:00[, factor[, jitter]])</c>.
/// </remarks>
[System.ComponentModel.TypeConverter(typeof(RetryPolicyConverter))]
public abstract class RetryPolicy
{
    /// <summary>
    /// The delay before the next attempt after <paramref name="failedAttempts"/> attempts have failed
    /// (1 after the first failure).
    /// </summary>
    /// <param name="failedAttempts">Attempts failed so far, at least 1.</param>
    public abstract TimeSpan GetDelay(int failedAttempts);

    /// <summary>
    /// asynq's default backoff: <c>n⁴ + 15 + rand(0..29)·(n + 1)</c> seconds, with <c>n</c> the retries
    /// already made (0 before the first retry). 25 retries span about three weeks.
    /// </summary>
    public static RetryPolicy Asynq { get; } = new AsynqRetryPolicy();

    /// <summary>Exponential backoff with ±<paramref name="jitter"/> proportional jitter, capped at <paramref name="max"/>.</summary>
    /// <param name="initial">Delay after the first failure.</param>
    /// <param name="max">Upper bound of any delay.</param>
    /// <param name="factor">Growth per failure (≥ 1).</param>
    /// <param name="jitter">Proportional jitter in [0, 1): spreads retries of a failed batch.</param>
    public static RetryPolicy Exponential(TimeSpan initial, TimeSpan max, double factor = 2.0, double jitter = 0.2) =>
        new ExponentialRetryPolicy(initial, max, factor, jitter);

    /// <summary>The same delay after every failure.</summary>
    /// <param name="delay">The delay.</param>
    public static RetryPolicy Fixed(TimeSpan delay) => new ExponentialRetryPolicy(delay, delay, 1.0, 0.0);
}
