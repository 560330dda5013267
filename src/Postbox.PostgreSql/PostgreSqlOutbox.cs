using Npgsql;
using Postbox.Producer;

namespace Postbox.PostgreSql;

/// <summary>
/// Enqueues into the PostgreSQL outbox <b>inside the caller's own <see cref="NpgsqlBatch"/></b>, so the outbox insert
/// travels in the same round trip as the business statement and adds no round trip of its own (see
/// <c>bench/README.md</c> for what that saves). <see cref="IOutbox"/> remains the simple, provider-neutral way.
/// </summary>
/// <example>
/// <code>
/// await using var tx = await connection.BeginTransactionAsync();
/// await using var batch = new NpgsqlBatch(connection, tx);
/// batch.BatchCommands.Add(insertCustomer);
/// foreach (var command in postgresOutbox.CreateEnqueueCommands([message]))
/// {
///     batch.BatchCommands.Add(command);
/// }
/// await batch.ExecuteNonQueryAsync();
/// await tx.CommitAsync();
/// </code>
/// </example>
public sealed class PostgreSqlOutbox
{
    private readonly IOutboxPreparer _preparer;
    private readonly PostgreSqlOutboxWriter _writer;

    /// <summary>Creates the batch-friendly outbox (registered by <c>UsePostgreSql</c>).</summary>
    /// <param name="preparer">Validation, trace stamping and relay wake-up, shared with <see cref="IOutbox"/>.</param>
    /// <param name="writer">The writer whose statements (and NOTIFY coalescing) are reused.</param>
    internal PostgreSqlOutbox(IOutboxPreparer preparer, PostgreSqlOutboxWriter writer)
    {
        _preparer = preparer ?? throw new ArgumentNullException(nameof(preparer));
        _writer = writer ?? throw new ArgumentNullException(nameof(writer));
    }

    /// <summary>
    /// Validates <paramref name="messages"/>, stamps the trace context, and returns the commands that insert them;
    /// add them to a batch bound to your transaction. Nothing is written until that batch runs, and nothing becomes
    /// visible to a relay before your commit. The rules are those of <see cref="IOutbox"/>: an invalid message is refused
    /// here, before your batch runs, and a message whose id is already in the outbox is skipped without an error. The
    /// first command is the insert: after the batch ran, its <see cref="NpgsqlBatchCommand.RecordsAffected"/> is the
    /// number of messages written.
    /// </summary>
    /// <param name="messages">The messages, at least one (kept in this order for ordering keys).</param>
    /// <exception cref="ArgumentException">A message is invalid (the exception names it and the field), or two share an id.</exception>
    public IReadOnlyList<NpgsqlBatchCommand> CreateEnqueueCommands(IReadOnlyList<OutboxMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException("At least one message is required.", nameof(messages));
        }

        var commands = _writer.CreateCommands(messages, _preparer.Prepare(messages));
        // Woken now, before the caller's commit: the relay re-checks for a short while after every wake-up.
        _preparer.Enqueued();
        return commands;
    }
}
