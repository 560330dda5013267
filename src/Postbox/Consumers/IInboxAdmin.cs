namespace Postbox.Consumers;

/// <summary>
/// Monitoring and operator actions on the inbox: inspect a message, list dead letters, replay them. The outbox's
/// counterpart is <see cref="Storage.IOutboxMonitor"/>: the same member names and parameter order, with the consumer
/// first (an inbox holds one row per message and consumer).
/// </summary>
public interface IInboxAdmin
{
    /// <summary>The inbox row of <paramref name="messageId"/> for <paramref name="consumer"/>, or <see langword="null"/>.</summary>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="messageId">The message id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<InboxEntry?> GetAsync(string consumer, Guid messageId, CancellationToken cancellationToken);

    /// <summary>Dead letters (messages whose last attempt failed), most recently dead first, with their error history.</summary>
    /// <param name="consumer">Only this consumer's, or every consumer's when <see langword="null"/>.</param>
    /// <param name="limit">Maximum number returned (1 to 10,000).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is outside 1 to 10,000.</exception>
    Task<IReadOnlyList<InboxEntry>> ListDeadAsync(string? consumer, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Replays dead letters of <paramref name="consumer"/>: each becomes due at once with a fresh attempt budget; its
    /// error history is kept. Messages that are not dead letters of that consumer are left alone.
    /// </summary>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="ids">The dead letters' message ids.</param>
    /// <param name="cancellationToken">Cancels the update.</param>
    /// <returns>How many were replayed.</returns>
    Task<int> ReplayDeadAsync(string consumer, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);
}
