namespace Postbox.Monitoring;

/// <summary>Counts by state for one side, in total and per topic (outbox) or consumer (inbox).</summary>
/// <param name="Side">Outbox or inbox.</param>
/// <param name="Totals">One entry per state the side has.</param>
/// <param name="Groups">Per topic or consumer and state (only non-zero counts).</param>
/// <param name="OldestPendingAt">Creation (outbox) or first-receipt (inbox) time of the oldest message not yet done nor
/// dead; <see langword="null"/> when none is pending.</param>
/// <param name="At">When the counts were taken (UTC, the store's clock or the caller's).</param>
public sealed record MonitorOverview(
    MessageSide Side,
    IReadOnlyList<StateTotal> Totals,
    IReadOnlyList<StateCount> Groups,
    DateTimeOffset? OldestPendingAt,
    DateTimeOffset At);
