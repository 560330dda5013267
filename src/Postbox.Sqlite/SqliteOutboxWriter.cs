using System.Data.Common;
using Microsoft.Data.Sqlite;
using Postbox.Storage;

namespace Postbox.Sqlite;

/// <summary>Writes outbox messages through the caller's <see cref="SqliteTransaction"/>.</summary>
internal sealed class SqliteOutboxWriter : IOutboxWriter
{
    private readonly string _insert;

    /// <summary>Creates a writer for the tables in <paramref name="options"/>.</summary>
    /// <param name="options">Store options.</param>
    public SqliteOutboxWriter(SqliteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var tables = new SqliteTables(options.TablePrefix);
        _insert = $"""
            INSERT INTO {tables.Outbox} (id, state, topic, key, type, payload, headers, created_at, available_at, max_attempts)
            VALUES ($id, $state, $topic, $key, $type, $payload, $headers, $created, $available, $max)
            ON CONFLICT (id) DO NOTHING
            """;
    }

    /// <inheritdoc />
    /// <remarks>
    /// An id already stored is skipped (<c>ON CONFLICT (id) DO NOTHING</c> — not <c>INSERT OR IGNORE</c>, which would
    /// also swallow NOT NULL and CHECK violations).
    /// </remarks>
    public async Task<int> WriteAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (transaction is not SqliteTransaction sqliteTransaction)
        {
            throw new ArgumentException($"The SQLite outbox needs a SqliteTransaction; got {transaction?.GetType().FullName ?? "null"}.", nameof(transaction));
        }

        var connection = sqliteTransaction.Connection
            ?? throw new ArgumentException("The transaction is no longer usable (committed, rolled back or disposed).", nameof(transaction));

        // SQLite runs in-process: one prepared statement executed per message costs no round trips.
        await using var command = new SqliteCommand(_insert, connection, sqliteTransaction);
        var id = command.Parameters.Add("$id", SqliteType.Text);
        var state = command.Parameters.Add("$state", SqliteType.Integer);
        var topic = command.Parameters.Add("$topic", SqliteType.Text);
        var key = command.Parameters.Add("$key", SqliteType.Text);
        var type = command.Parameters.Add("$type", SqliteType.Text);
        var payload = command.Parameters.Add("$payload", SqliteType.Blob);
        var headers = command.Parameters.Add("$headers", SqliteType.Text);
        var created = command.Parameters.Add("$created", SqliteType.Integer);
        var available = command.Parameters.Add("$available", SqliteType.Integer);
        var max = command.Parameters.Add("$max", SqliteType.Integer);
        var written = 0;
        foreach (var m in messages)
        {
            var delayed = m.AvailableAt is { } at && at > now;
            id.Value = m.Id.ToString("D");
            state.Value = delayed ? OutboxState.Scheduled : OutboxState.Ready;
            topic.Value = m.Topic;
            key.Value = (object?)m.Key ?? DBNull.Value;
            type.Value = (object?)m.Type ?? DBNull.Value;
            payload.Value = m.Payload.ToArray();
            headers.Value = (object?)HeaderSerializer.Serialize(m.Headers) ?? DBNull.Value;
            created.Value = SqliteTime.ToTicks(now);
            available.Value = SqliteTime.ToTicks(delayed ? m.AvailableAt!.Value : now);
            max.Value = (object?)m.MaxAttempts ?? DBNull.Value;
            written += await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return written;
    }
}
