namespace Postbox.Monitoring;

/// <summary>
/// The heartbeat table of running relays and workers (<c>servers</c>) and their per-minute activity (<c>stats</c>):
/// written by each relay and worker (see <see cref="ServerHeartbeat"/>), read by the dashboard's servers page and its rates
/// and charts.
/// </summary>
/// <remarks>
/// For provider authors: each store implements it over its own tables (migration 007); it is not covered by the
/// compatibility promise of the producer and consumer APIs. Both tables stay small: a row per running process, a row
/// per topic or consumer and minute, and every writer deletes what is older than the retention.
/// </remarks>
public interface IServerRegistry
{
    /// <summary>Most rows <see cref="ListServersAsync"/> returns (1,000).</summary>
    const int MaxServers = 1000;

    /// <summary>
    /// In one transaction, writes or refreshes <paramref name="heartbeat"/>'s row (keyed by its owner id) and adds
    /// <paramref name="stats"/> to the stored buckets (count added to count, the larger maximum kept), so buckets that
    /// several processes write add up.
    /// </summary>
    /// <param name="heartbeat">The row.</param>
    /// <param name="stats">Per-minute counts since the last successful write (distinct minute, side and name); may be empty.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task BeatAsync(ServerHeartbeat heartbeat, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken);

    /// <summary>In one transaction, deletes the row of <paramref name="ownerId"/> (a graceful stop) and adds its last <paramref name="stats"/>.</summary>
    /// <param name="ownerId">The owner id.</param>
    /// <param name="stats">Counts not written yet; may be empty.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task RemoveAsync(string ownerId, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken);

    /// <summary>Deletes heartbeat rows last refreshed before <paramref name="serversBefore"/> and buckets of minutes before <paramref name="statsBefore"/>.</summary>
    /// <param name="serversBefore">Rows refreshed earlier are gone (UTC).</param>
    /// <param name="statsBefore">Buckets of earlier minutes are gone (UTC).</param>
    /// <param name="cancellationToken">Cancels the deletes.</param>
    /// <returns>How many rows were deleted, of both tables.</returns>
    Task<int> PruneAsync(DateTimeOffset serversBefore, DateTimeOffset statsBefore, CancellationToken cancellationToken);

    /// <summary>Every heartbeat row (at most <see cref="MaxServers"/>), stale ones included, relays first, then by owner id.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<IReadOnlyList<ServerHeartbeat>> ListServersAsync(CancellationToken cancellationToken);

    /// <summary>The buckets of <paramref name="since"/>'s minute and later, by minute.</summary>
    /// <param name="since">The first minute (UTC; rounded down to the minute).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<IReadOnlyList<StatsBucket>> GetStatsAsync(DateTimeOffset since, CancellationToken cancellationToken);
}
