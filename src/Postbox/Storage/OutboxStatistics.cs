namespace Postbox.Storage;

/// <summary>A snapshot of the outbox.</summary>
/// <param name="Ready">Waiting to be claimed.</param>
/// <param name="InFlight">Claimed by a relay (leased).</param>
/// <param name="Scheduled">Delayed or waiting for a retry.</param>
/// <param name="Delivered">Confirmed by the broker and kept for the retention window.</param>
/// <param name="Dead">Gave up after the last attempt; kept until replayed or deleted.</param>
/// <param name="OldestPendingCreatedAt">Creation time of the oldest message not yet delivered nor dead.</param>
public sealed record OutboxStatistics(long Ready, long InFlight, long Scheduled, long Delivered, long Dead, DateTimeOffset? OldestPendingCreatedAt);
