using Postbox.Retry;

namespace Postbox.Relay;

/// <summary>Options of the relay that publishes outbox messages. Every value is validated at start-up.</summary>
public sealed class RelayOptions
{
    /// <summary>Whether this process runs a relay. Default <see langword="true"/>; turn it off in producer-only processes.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Messages claimed per round trip. Default 500; 1 to 10,000.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// Full batches being published at the same time, so claiming, publishing and settling overlap: the relay holds
    /// at most <see cref="BatchSize"/> × this many claimed, unsettled messages, in as many (smaller) batches as
    /// arrive. Default 4; 1 to 64.
    /// </summary>
    public int MaxInFlightBatches { get; set; } = 4;

    /// <summary>
    /// How soon after an empty claim the relay looks again when no wake-up arrives: the fallback that always runs.
    /// Without a cross-process wake-up channel (MySQL, SQLite, PostgreSQL with <c>ListenForNotifications</c> off) it is
    /// how messages enqueued by other processes are found, every interval. Default 1 s; 10 ms to 1 h.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest wait between claims of an idle relay while a cross-process wake-up channel is established
    /// (PostgreSQL LISTEN/NOTIFY): every committed message wakes the relay at once, so each empty claim doubles the wait
    /// from <see cref="PollInterval"/> up to this. What becomes due by time alone is then found within this interval: a
    /// message's <see cref="OutboxMessage.AvailableAt"/>, another relay's retry, the lease of a relay that died (this
    /// relay's own retries keep it polling at <see cref="PollInterval"/> until they are due). Default 5 s (an idle relay
    /// then costs about 0.4 transactions a second, claims, heartbeat and gauges together); 10 ms to 1 h; a value below
    /// <see cref="PollInterval"/> means <see cref="PollInterval"/>.
    /// </summary>
    public TimeSpan IdlePollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait between two claims of an idle relay: the larger of both poll intervals.</summary>
    internal TimeSpan LongestPollWait => IdlePollInterval > PollInterval ? IdlePollInterval : PollInterval;

    /// <summary>
    /// How long a claim is held. A relay that dies holding messages loses them to other relays after this.
    /// Default 60 s; must exceed <see cref="PublishTimeout"/>.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a batch may wait for broker confirms before its unconfirmed messages count as failed. Default 30 s.
    /// It starts after the transport has prepared the batch's topics (queue declarations never count against it), and a
    /// message whose confirm is missing because the broker as a whole is unavailable (blocked, gone, not answering) is
    /// handed back without an attempt instead.
    /// </summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Publish attempts before a message is marked dead, unless the message sets its own. Default 25; at least 1.</summary>
    public int MaxAttempts { get; set; } = 25;

    /// <summary>Delay between attempts. Default <see cref="RetryPolicy.Asynq"/> (n⁴ + 15 + rand(0..29)·(n+1) s).</summary>
    public RetryPolicy RetryPolicy { get; set; } = RetryPolicy.Asynq;

    /// <summary>What a dead message does to the rest of its key. Default <see cref="DeadKeyPolicy.Block"/>.</summary>
    public DeadKeyPolicy DeadKeyPolicy { get; set; } = DeadKeyPolicy.Block;

    /// <summary>
    /// How long delivered messages are kept in the outbox table (a delivered history for the dashboard, and a window in
    /// which enqueueing the same id again is a no-op) before cleanup deletes them. Default <see cref="TimeSpan.Zero"/>:
    /// a confirmed message is deleted by the settle itself, so the table holds only undelivered and dead messages and
    /// its size stays bounded under any load. Above zero every delivered message costs one more row version and stays
    /// for the window (at 2,000 msg/s, 1 h is 7.2 million rows); see docs/operations.md. Range 0–365 days.
    /// </summary>
    public TimeSpan DeliveredRetention { get; set; } = TimeSpan.Zero;

    /// <summary>How often cleanup runs. Default 1 min.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Upper bound of rows one cleanup statement deletes, so cleanup never holds long locks. Default 1,000.</summary>
    public int CleanupBatchSize { get; set; } = 1000;

    /// <summary>How often the oldest-pending-message gauge is refreshed. Default 30 s.</summary>
    public TimeSpan MonitorInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// On shutdown, how long in-flight batches may take to finish; unconfirmed messages are then handed
    /// back. Default 10 s.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the relay refreshes its row in the store's <c>servers</c> table (the dashboard's servers page) and writes
    /// its per-minute counts to <c>stats</c>: one transaction per interval. A row not refreshed for three intervals shows
    /// as stale. Default 10 s; 100 ms to 10 min.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Identifies this relay in leases. Default: host name, process id and a random suffix, unique per
    /// relay instance.
    /// </summary>
    public string? OwnerId { get; set; }
}
