namespace Postbox.Service.Hosting;

/// <summary>The worker's handlers (configuration section <c>Worker</c>).</summary>
internal sealed class WorkerSettings
{
    /// <summary>Attempts (the first is attempt 1) before a message is dead-lettered and its delivery marked failed. Default 25.</summary>
    public int MaxAttempts { get; set; } = 25;

    /// <summary>
    /// A fixed delay between retries. Default none: asynq's backoff (n⁴ + 15 + rand(0..29)·(n+1) s), which spreads
    /// 25 retries over about three weeks. Tests set a short delay.
    /// </summary>
    public TimeSpan? RetryDelay { get; set; }

    /// <summary>Messages each handler processes at a time. Default 12.</summary>
    public int Concurrency { get; set; } = 12;

    /// <summary>Longest time one attempt may take. Default 1 min.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long the worker keeps trying to save the record of a mail the SMTP server accepted, when the database is
    /// unreachable. A database outage shorter than this sends no mail twice. Default 60 s; 0 to 1 h.
    /// </summary>
    public TimeSpan SentRecordTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
