using System.Data.Common;

namespace Postbox.Storage;

/// <summary>
/// Producer side of a store: writes messages through the caller's own transaction. Implemented by each
/// database provider; applications use <see cref="IOutbox"/>.
/// </summary>
public interface IOutboxWriter
{
    /// <summary>
    /// Inserts <paramref name="messages"/> through <paramref name="transaction"/> in as few round trips as
    /// the provider can (one for a bulk call). Nothing becomes visible to a relay before the commit.
    /// </summary>
    /// <param name="transaction">The caller's open transaction; its connection is used.</param>
    /// <param name="messages">Validated messages, at least one.</param>
    /// <param name="now">The enqueue time (from the outbox's <see cref="TimeProvider"/>).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task WriteAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, DateTimeOffset now, CancellationToken cancellationToken);
}
