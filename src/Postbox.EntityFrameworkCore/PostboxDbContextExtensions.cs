using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Postbox.Consumers;

namespace Postbox.EntityFrameworkCore;

/// <summary>Enqueues through a <see cref="DbContext"/>, and joins a handler's context to the inbox transaction.</summary>
public static class PostboxDbContextExtensions
{
    /// <summary>
    /// Enqueues <paramref name="message"/> so that it commits with <paramref name="context"/>'s work: at once in the
    /// context's open transaction (<c>Database.BeginTransactionAsync()</c>), committed or rolled back with it; or, when
    /// the context has no transaction, staged on the context and written by its next successful <c>SaveChanges</c> /
    /// <c>SaveChangesAsync</c>, in the same transaction as the entity changes.
    /// </summary>
    /// <remarks>
    /// Staging needs <see cref="PostboxDbContextOptionsExtensions.UsePostbox(DbContextOptionsBuilder)"/> on the context's
    /// options. A staged message is kept until a save commits it: a save that fails (a constraint violation, a lost
    /// connection) leaves neither the entity changes nor the message, and the next save tries both again. A message whose
    /// <see cref="OutboxMessage.Id"/> is already in the outbox is skipped, as with
    /// <see cref="IOutbox.EnqueueAsync(System.Data.Common.DbTransaction, OutboxMessage, CancellationToken)"/>.
    /// </remarks>
    /// <param name="outbox">The outbox (from dependency injection).</param>
    /// <param name="context">The context whose transaction or next save the message joins; its database must be the Postbox store's.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the write (when written at once).</param>
    /// <exception cref="ArgumentException">The message is invalid, or its id is already staged on the context; nothing was written or staged.</exception>
    /// <exception cref="InvalidOperationException">The context has no transaction and Postbox is not enabled on its options.</exception>
    public static Task EnqueueAsync(this IOutbox outbox, DbContext context, OutboxMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return EnqueueAsync(outbox, context, [message], cancellationToken);
    }

    /// <summary>Enqueues <paramref name="messages"/>, in this order, like <see cref="EnqueueAsync(IOutbox, DbContext, OutboxMessage, CancellationToken)"/>.</summary>
    /// <param name="outbox">The outbox (from dependency injection).</param>
    /// <param name="context">The context whose transaction or next save the messages join.</param>
    /// <param name="messages">The messages.</param>
    /// <param name="cancellationToken">Cancels the write (when written at once).</param>
    /// <exception cref="ArgumentException">A message is invalid, or two share an id; nothing was written or staged.</exception>
    /// <exception cref="InvalidOperationException">The context has no transaction and Postbox is not enabled on its options.</exception>
    public static async Task EnqueueAsync(this IOutbox outbox, DbContext context, IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(messages);
        if (context.Database.CurrentTransaction is { } transaction)
        {
            await outbox.EnqueueAsync(transaction.GetDbTransaction(), messages, cancellationToken).ConfigureAwait(false);
            return;
        }

        OutboxStage.Of(context).Add(outbox, messages);
    }

    /// <summary>
    /// Points <paramref name="context"/> at the inbox's connection and enlists it in the inbox transaction of
    /// <paramref name="message"/>, so the handler's <c>SaveChanges</c> commits with the inbox record, exactly once per
    /// message, and a failed attempt rolls them back together. Call it before the context first touches the database.
    /// </summary>
    /// <remarks>
    /// <para>The runtime commits the transaction after the handler returns: the handler must not commit or roll back
    /// itself (no <c>Database.CommitTransaction()</c>, no <c>BeginTransaction()</c> of its own). An attempt that does is
    /// failed with <see cref="HandlerMisuseException"/> and not retried.</para>
    /// <para>The context's provider must match the inbox's store (Npgsql with the PostgreSQL inbox, SQLite with the
    /// SQLite inbox), and its tables must live in that database. The context does not own the connection: disposing it
    /// leaves the connection to the runtime. Messages enqueued through the context in the handler
    /// (<see cref="EnqueueAsync(IOutbox, DbContext, OutboxMessage, CancellationToken)"/>) join the same transaction.</para>
    /// </remarks>
    /// <param name="context">A context for this handling only (e.g. resolved in the handler's scope), not yet connected.</param>
    /// <param name="message">The handler's <see cref="MessageContext"/>.</param>
    /// <param name="cancellationToken">Cancels the enlistment.</param>
    /// <exception cref="InvalidOperationException">The context already has another transaction.</exception>
    public static async Task UseInboxTransactionAsync(this DbContext context, MessageContext message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(message);
        var database = context.Database;
        var inbox = message.Transaction;
        if (database.CurrentTransaction is { } current)
        {
            if (ReferenceEquals(current.GetDbTransaction(), inbox))
            {
                return;
            }

            throw new InvalidOperationException(
                $"'{context.GetType().Name}' already has its own transaction: enlist it in the inbox transaction before beginning any, and let the runtime commit.");
        }

        var connection = message.Connection;
        if (!ReferenceEquals(database.GetDbConnection(), connection))
        {
            database.SetDbConnection(connection, contextOwnsConnection: false);
        }

        await database.UseTransactionAsync(inbox, cancellationToken).ConfigureAwait(false);
    }
}
