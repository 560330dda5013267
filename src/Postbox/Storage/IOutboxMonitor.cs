namespace Postbox.Storage;

/// <summary>
/// Monitoring and operator actions on a store, kept apart from the relay's hot-path contract
/// (<see cref="IOutboxStore"/>): counts, dead messages, replay.
/// </summary>
public interface IOutboxMonitor
{
    /// <summary>Counts of messages per state and the oldest undelivered message.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<OutboxStatistics> GetStatisticsAsync(CancellationToken cancellationToken);

    /// <summary>Dead messages, oldest first, with their last error.</summary>
    /// <param name="limit">Maximum number returned (1 to 10,000).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<IReadOnlyList<DeadMessage>> ListDeadAsync(int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Makes dead messages ready again with a fresh attempt budget (the last error is kept until the next
    /// attempt). Messages that are not dead are left alone.
    /// </summary>
    /// <param name="ids">The dead messages to replay.</param>
    /// <param name="cancellationToken">Cancels the update.</param>
    /// <returns>The number of messages replayed.</returns>
    Task<int> ReplayDeadAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);
}
