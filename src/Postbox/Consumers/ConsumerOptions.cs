namespace Postbox.Consumers;

/// <summary>Options of the consumer runtime shared by every handler of the process. Validated at start-up.</summary>
public sealed class ConsumerOptions
{
    /// <summary>
    /// On shutdown (SIGTERM, SIGINT), how long in-flight handlers may take to finish after intake stopped; then
    /// their cancellation tokens fire and unfinished messages are handed back to the broker (or to the retry
    /// schedule). Default 10 s; 0 to 1 h. Keep it below the host's own <c>HostOptions.ShutdownTimeout</c> (30 s).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often due retries are looked for while retries are being found. Default 1 s; 10 ms to 1 h. When a look
    /// finds nothing, the next waits twice as long, up to <see cref="IdleRetryPollInterval"/>; a retry scheduled by this
    /// process wakes the scheduler at its due time whatever the interval.
    /// </summary>
    public TimeSpan RetryPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest wait between looks for due retries when none are found: what an idle worker costs the database (one
    /// query per interval), and how late a retry scheduled by another, stopped process can start. Default 10 s; 10 ms
    /// to 1 h; a value below <see cref="RetryPollInterval"/> acts as <see cref="RetryPollInterval"/>.
    /// </summary>
    public TimeSpan IdleRetryPollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How fresh this process keeps its knowledge of which consumers are paused in the store
    /// (<c>Monitoring.IPostboxPauses</c>: the dashboard's and <c>admin</c>'s pause of a consumer): a delivery or a retry
    /// claim reads the pauses again first when the last read is older than this, so a pause reaches a busy handler within
    /// this interval and holds the first message that reaches an idle one; while a consumer is paused the resume is looked
    /// for every interval. Cost: at most one small query per interval per process while messages flow, one per
    /// <see cref="IdleRetryPollInterval"/> when idle. Default 1 s; 100 ms to 1 min.
    /// </summary>
    public TimeSpan PausePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of retries claimed per query. Default 100; 1 to 10,000.</summary>
    public int RetryBatchSize { get; set; } = 100;

    /// <summary>
    /// How long inbox rows of handled messages are kept. A duplicate arriving later than this runs the handler
    /// again, so keep it well above the broker's longest redelivery delay. Default 7 days; <see langword="null"/>
    /// keeps them forever. Dead letters are never deleted by cleanup.
    /// </summary>
    public TimeSpan? InboxRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often inbox cleanup runs. Default 1 min.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Upper bound of rows one cleanup statement deletes. Default 1,000.</summary>
    public int CleanupBatchSize { get; set; } = 1000;

    /// <summary>
    /// Handle SIGTSTP (stop taking new messages, keep running) and SIGCONT (take messages again). Default
    /// <see langword="true"/>. SIGTERM and SIGINT are the host's: they start the graceful shutdown.
    /// </summary>
    public bool HandleSignals { get; set; } = true;

    /// <summary>
    /// How often the worker refreshes its row in the store's <c>servers</c> table (the dashboard's servers page, with its
    /// handlers) and writes its per-minute counts to <c>stats</c>: one transaction per interval. A row not refreshed for
    /// three intervals shows as stale. Default 10 s; 100 ms to 10 min.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Identifies this process in retry leases. Default: host name, process id and a random suffix.</summary>
    public string? OwnerId { get; set; }
}
