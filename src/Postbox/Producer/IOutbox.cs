using System.Data.Common;

namespace Postbox;

/// <summary>
/// Writes messages to the outbox inside the caller's database transaction. The messages become visible
/// to the relay when the transaction commits; a rollback discards them.
/// </summary>
public interface IOutbox
{
    /// <summary>Enqueues one message through <paramref name="transaction"/>.</summary>
    /// <param name="transaction">The caller's open transaction (Npgsql, SQLite, ...); its connection is used.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">The message is invalid (the exception names the field).</exception>
    Task EnqueueAsync(DbTransaction transaction, OutboxMessage message, CancellationToken cancellationToken = default);

    /// <summary>Enqueues many messages through <paramref name="transaction"/> in one round trip.</summary>
    /// <param name="transaction">The caller's open transaction; its connection is used.</param>
    /// <param name="messages">The messages, kept in this order for ordering keys.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">A message is invalid (the exception names it and the field).</exception>
    Task EnqueueAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken = default);
}
