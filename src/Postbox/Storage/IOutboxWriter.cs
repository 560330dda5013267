using System.Data.Common;

namespace Postbox.Storage;

/// <summary>
/// Producer side of a store: writes messages through the caller's own transaction. Implemented by each
/// database provider; applications use <see cref="IOutbox"/>.
/// </summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public interface IOutboxWriter
{
    /// <summary>
    /// Inserts <paramref name="messages"/> through <paramref name="transaction"/> in as few round trips as
    /// the provider can (one for a bulk call). Nothing becomes visible to a relay before the commit.
    /// </summary>
    /// <remarks>
    /// A message whose id is already stored must be skipped without an error and without changing the stored row
    /// (PostgreSQL and SQLite: <c>ON CONFLICT (id) DO NOTHING</c>): an error would abort the caller's transaction. On
    /// MySQL mind that <c>INSERT IGNORE</c> also turns other errors into warnings, and that the count of an
    /// <c>ON DUPLICATE KEY UPDATE</c> depends on the client's found-rows setting. Times must be stored as UTC whatever their offset (<paramref name="now"/> may carry one). The
    /// messages passed the validator, so they hold no value a store cannot hold (see <c>docs/guarantees.md</c>); the
    /// shared conformance suite holds every store to these rules.
    /// </remarks>
    /// <param name="transaction">The caller's open transaction; its connection is used.</param>
    /// <param name="messages">Validated messages, at least one.</param>
    /// <param name="now">The enqueue time (from the outbox's <see cref="TimeProvider"/>).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many messages were inserted (those whose id was not already stored).</returns>
    Task<int> WriteAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, DateTimeOffset now, CancellationToken cancellationToken);
}
