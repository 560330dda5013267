namespace Postbox.Producer;

/// <summary>
/// The steps <see cref="IOutbox.EnqueueAsync(System.Data.Common.DbTransaction, IReadOnlyList{OutboxMessage}, CancellationToken)"/>
/// performs around the store's write, for store-specific enqueue paths that write differently — such as adding the
/// outbox insert to the caller's own command batch, so it costs no round trip of its own.
/// </summary>
internal interface IOutboxPreparer
{
    /// <summary>
    /// Validates <paramref name="messages"/> (each message, and that no id appears twice) and stamps the current trace
    /// context into their headers. Call it before anything is sent in the caller's transaction: it throws instead of
    /// letting the database refuse a value, which would abort that transaction.
    /// </summary>
    /// <param name="messages">The messages to enqueue.</param>
    /// <returns>The enqueue time to store with them.</returns>
    /// <exception cref="ArgumentException">A message is invalid (the exception names it and the field), or two share an id.</exception>
    DateTimeOffset Prepare(IReadOnlyList<OutboxMessage> messages);

    /// <summary>Wakes this process's relay; call it once the write was sent (the relay re-checks until the commit shows).</summary>
    void Enqueued();
}
