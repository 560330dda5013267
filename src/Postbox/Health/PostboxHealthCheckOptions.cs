namespace Postbox.Health;

/// <summary>
/// Options of Postbox's health checks (<c>services.AddHealthChecks().AddPostbox(...)</c> or
/// <c>AddPostbox(...).AddHealthChecks(...)</c>, bound from the <c>Postbox:HealthChecks</c> section there).
/// Validated when the host starts.
/// </summary>
public sealed class PostboxHealthCheckOptions
{
    /// <summary>
    /// The <c>postbox-oldest-pending</c> check fails when the oldest message that is neither delivered nor dead was
    /// created longer ago than this (a broker outage, a stuck key, no relay running, a message retrying for long).
    /// A message enqueued with a later <see cref="OutboxMessage.AvailableAt"/> counts from its creation too, so set this
    /// above the longest delay you schedule. Default 5 min; 1 s to 30 days.
    /// </summary>
    public TimeSpan OldestPendingThreshold { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The <c>postbox-relay</c> check fails when the relay loop has not checked in for this long: it is stuck (in a
    /// claim that never returns, waiting for batches that never settle). The loop checks in at least every
    /// <c>Postbox:Relay:PollInterval</c>, so the limit applied is never less than twice that. Default 1 min; 1 s to 1 day.
    /// </summary>
    public TimeSpan RelayStallTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long the store and transport checks wait for an answer before they fail. Default 5 s; 100 ms to 5 min.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);
}
