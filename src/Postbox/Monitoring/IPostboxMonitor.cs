namespace Postbox.Monitoring;

/// <summary>
/// The store-agnostic read and admin contract behind the dashboard and the admin CLI, the same words for the outbox
/// and the inbox: lists by <see cref="MessageState"/> paged by keyset, details with the error history, bounded counts,
/// replay of dead letters, retry now, delete.
/// </summary>
/// <remarks>
/// For provider authors: each store implements it over its own tables (PostgreSQL, SQLite); it is not covered by the
/// compatibility promise of the producer and consumer APIs. Every list and count must use an index of the state it
/// reads and stop at its bound, so the dashboard stays fast on tables of millions of rows.
/// </remarks>
public interface IPostboxMonitor
{
    /// <summary>How many payload bytes <see cref="GetAsync"/> returns at most (64 KiB).</summary>
    const int MaxPayloadBytes = 64 * 1024;

    /// <summary>Counts by state, in total and per topic or consumer, each state counted up to <paramref name="countLimit"/>.</summary>
    /// <param name="side">Outbox or inbox.</param>
    /// <param name="countLimit">Counting stops at this many rows per state (1 to 10,000,000); the totals say when it did.</param>
    /// <param name="cancellationToken">Cancels the queries.</param>
    Task<MonitorOverview> GetOverviewAsync(MessageSide side, int countLimit, CancellationToken cancellationToken);

    /// <summary>One page of messages in a state.</summary>
    /// <param name="query">Side, state, filter, cursor and page size.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArgumentException">The cursor is not one this store wrote, or the page size is out of range.</exception>
    Task<MessagePage> ListAsync(MessageQuery query, CancellationToken cancellationToken);

    /// <summary>Every row of <paramref name="id"/> on a side: one for the outbox, one per consumer for the inbox.</summary>
    /// <param name="side">Outbox or inbox.</param>
    /// <param name="id">The message id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<IReadOnlyList<MessageSummary>> FindAsync(MessageSide side, Guid id, CancellationToken cancellationToken);

    /// <summary>The full record of one message, or <see langword="null"/> when there is none.</summary>
    /// <param name="side">Outbox or inbox.</param>
    /// <param name="message">The message (and its consumer, for the inbox).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<MessageDetail?> GetAsync(MessageSide side, MessageRef message, CancellationToken cancellationToken);

    /// <summary>
    /// Makes dead messages due at once with a fresh attempt budget; their error history is kept. Messages that are not
    /// dead are left alone.
    /// </summary>
    /// <param name="side">Outbox or inbox.</param>
    /// <param name="messages">The messages.</param>
    /// <param name="cancellationToken">Cancels the update.</param>
    /// <returns>How many were replayed.</returns>
    Task<int> ReplayDeadAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken);

    /// <summary>
    /// Replays every dead message matching <paramref name="filter"/> that was dead when the call began, in batches of at
    /// most 1,000 rows per statement. A replayed message that dies again during the call is left dead for the next call,
    /// so the call ends and counts each message once.
    /// </summary>
    /// <param name="side">Outbox or inbox.</param>
    /// <param name="filter">Which dead messages.</param>
    /// <param name="progress">Told the running total after each batch; optional.</param>
    /// <param name="cancellationToken">Cancels between batches (replayed batches stay replayed).</param>
    /// <returns>How many were replayed.</returns>
    Task<int> ReplayAllDeadAsync(MessageSide side, MessageFilter filter, IProgress<int>? progress, CancellationToken cancellationToken);

    /// <summary>Makes scheduled messages (delayed or waiting for a retry) due now. Leased, dead and done messages are left alone.</summary>
    /// <param name="side">Outbox or inbox.</param>
    /// <param name="messages">The messages.</param>
    /// <param name="cancellationToken">Cancels the update.</param>
    /// <returns>How many were made due.</returns>
    Task<int> RetryNowAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes messages for good. Only rows no relay or worker holds can go: outbox rows that are ready, scheduled or
    /// dead; inbox rows that are dead or scheduled. In-flight rows are left alone, and so are done inbox rows (they
    /// are the dedupe record: deleting one would let a duplicate delivery run the handler again).
    /// </summary>
    /// <param name="side">Outbox or inbox.</param>
    /// <param name="messages">The messages.</param>
    /// <param name="cancellationToken">Cancels the delete.</param>
    /// <returns>How many were deleted.</returns>
    Task<int> DeleteAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken);
}
