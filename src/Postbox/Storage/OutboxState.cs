namespace Postbox.Storage;

/// <summary>
/// The values of the outbox table's <c>state</c> column, the same in every store. They are stored data: never renumber
/// them (no migration rewrites existing rows), and keep the migrations' <c>CHECK</c> constraints and partial indexes,
/// which spell them as numbers, in step.
/// </summary>
internal static class OutboxState
{
    /// <summary>Waiting to be claimed now (enqueued, handed back, or replayed).</summary>
    public const int Ready = 0;

    /// <summary>Confirmed by the broker; only stored when <c>DeliveredRetention</c> is above zero (the default deletes on confirm), until cleanup.</summary>
    public const int Delivered = 1;

    /// <summary>Out of attempts (or not retryable); kept until replayed.</summary>
    public const int Dead = 2;

    /// <summary>Claimed by a relay, leased until <c>available_at</c>.</summary>
    public const int InFlight = 3;

    /// <summary>Delayed (enqueued for later, or waiting for its next attempt) until <c>available_at</c>.</summary>
    public const int Scheduled = 4;

    /// <summary>
    /// The due time of a parked message: a keyless message of a paused topic that a claim took is left scheduled
    /// (<see cref="Scheduled"/>) due at this time instead of being leased, at the far end of the due index where no claim
    /// walks; resuming the topic makes it ready again (see <c>Monitoring.IPostboxPauses</c>). A whole second, so every
    /// store keeps it exactly (MySQL's DATETIME(6) included).
    /// </summary>
    public static readonly DateTimeOffset ParkedUntil = new(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The monitor's statistics from row counts per state (states without rows may be missing).</summary>
    /// <param name="counts">State → number of rows.</param>
    /// <param name="oldestPendingCreatedAt">Creation time of the oldest message not yet delivered or dead.</param>
    public static OutboxStatistics Statistics(IReadOnlyDictionary<int, long> counts, DateTimeOffset? oldestPendingCreatedAt)
    {
        ArgumentNullException.ThrowIfNull(counts);
        long Count(int state) => counts.TryGetValue(state, out var n) ? n : 0;
        return new OutboxStatistics(Ready: Count(Ready), InFlight: Count(InFlight), Scheduled: Count(Scheduled), Delivered: Count(Delivered),
            Dead: Count(Dead), oldestPendingCreatedAt);
    }
}
