namespace Postbox.Monitoring;

/// <summary>
/// One running relay or worker as its heartbeat row records it: written when it starts, refreshed every
/// <paramref name="HeartbeatInterval"/>, deleted when it stops gracefully.
/// </summary>
/// <param name="OwnerId">The process's owner id, the <c>lease_owner</c> its leases carry (at most 200 characters).</param>
/// <param name="Role">Relay or worker.</param>
/// <param name="Host">The machine name.</param>
/// <param name="ProcessId">The operating-system process id.</param>
/// <param name="StartedAt">When the relay or worker started (UTC).</param>
/// <param name="HeartbeatAt">When the row was last refreshed (UTC, the writer's clock).</param>
/// <param name="HeartbeatInterval">How often the writer refreshes it.</param>
/// <param name="Handlers">The handlers a worker runs (empty for a relay).</param>
public sealed record ServerHeartbeat(
    string OwnerId,
    ServerRole Role,
    string Host,
    int ProcessId,
    DateTimeOffset StartedAt,
    DateTimeOffset HeartbeatAt,
    TimeSpan HeartbeatInterval,
    IReadOnlyList<ServerHandler> Handlers)
{
    /// <summary>Heartbeats a row may miss before it counts as stale (the process is gone or cannot reach the database).</summary>
    public const int StaleAfterMissedBeats = 3;

    /// <summary>
    /// Whether the row was not refreshed for <see cref="StaleAfterMissedBeats"/> intervals at <paramref name="now"/>: the
    /// process was killed, hangs, or cannot reach the database. A gracefully stopped process deletes its row instead.
    /// </summary>
    /// <param name="now">The reader's time (UTC).</param>
    public bool IsStaleAt(DateTimeOffset now) => now - HeartbeatAt > HeartbeatInterval * StaleAfterMissedBeats;
}
