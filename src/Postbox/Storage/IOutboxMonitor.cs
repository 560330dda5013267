namespace Postbox.Storage;

/// <summary>
/// Monitoring and operator actions on the outbox, kept apart from the relay's hot-path contract
/// (<see cref="IOutboxStore"/>): counts, dead letters, replay. The inbox's counterpart is
/// <see cref="Consumers.IInboxAdmin"/>, with the same member names and parameter order (it adds the consumer first).
/// </summary>
public interface IOutboxMonitor
{
    /// <summary>Counts of messages per state and the oldest undelivered message.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<OutboxStatistics> GetStatisticsAsync(CancellationToken cancellationToken);

    /// <summary>Dead letters (messages out of attempts, or not retryable), oldest first, with their last error.</summary>
    /// <param name="limit">Maximum number returned (1 to 10,000).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is outside 1 to 10,000.</exception>
    Task<IReadOnlyList<DeadMessage>> ListDeadAsync(int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Replays dead letters: each becomes ready again with a fresh attempt budget (the last error is kept until the next
    /// attempt). Messages that are not dead letters are left alone.
    /// </summary>
    /// <param name="ids">The dead letters' message ids.</param>
    /// <param name="cancellationToken">Cancels the update.</param>
    /// <returns>How many were replayed.</returns>
    Task<int> ReplayDeadAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);
}
