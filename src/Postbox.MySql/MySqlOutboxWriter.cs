using System.Data.Common;
using System.Text;
using MySqlConnector;
using Postbox.Storage;

namespace Postbox.MySql;

/// <summary>
/// Writes outbox messages through the caller's <see cref="MySqlTransaction"/>: one multi-row <c>INSERT</c> per call
/// (one round trip), split only when a call is larger than one statement should be (see <see cref="MaxRowsPerStatement"/>).
/// </summary>
internal sealed class MySqlOutboxWriter : IOutboxWriter
{
    /// <summary>Rows per <c>INSERT</c>: bounds the statement's size well under the server's default
    /// <c>max_allowed_packet</c> (16 MB on MariaDB 10.11, 64 MB on MySQL 8.0) together with <see cref="MaxBytesPerStatement"/>.</summary>
    internal const int MaxRowsPerStatement = 1000;

    /// <summary>Payload bytes per <c>INSERT</c> (a statement carries them hex-escaped, about twice as long).</summary>
    internal const int MaxBytesPerStatement = 4 * 1024 * 1024;

    private const string Columns = "(id, state, topic, `key`, type, payload, headers, created_at, available_at, max_attempts)";
    private readonly string _table;
    private readonly string _insert;

    /// <summary>Creates a writer for the tables in <paramref name="options"/>.</summary>
    /// <param name="options">Store options (the table prefix).</param>
    public MySqlOutboxWriter(MySqlOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _table = new MySqlTables(options.TablePrefix).Outbox;
        _insert = $"INSERT INTO {_table} {Columns} VALUES ";
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="transaction"/> is not an open <see cref="MySqlTransaction"/>.</exception>
    /// <remarks>
    /// A message whose id is already stored is skipped by <c>ON DUPLICATE KEY UPDATE id = id</c>, which changes nothing
    /// and, unlike <c>INSERT IGNORE</c>, turns no other error into a warning; a copy of the id in an open transaction
    /// is waited for. The statement's row count cannot tell a skipped row from an inserted one (MySqlConnector reports
    /// found rows), so the ids already visible to the caller's transaction are counted first, in the same round trip;
    /// the count misses only a copy inserted by a concurrent transaction that commits while this one runs.
    /// </remarks>
    public async Task<int> WriteAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (transaction is not MySqlTransaction mySqlTransaction)
        {
            throw new ArgumentException($"The MySQL outbox needs a MySqlTransaction; got {transaction?.GetType().FullName ?? "null"}.", nameof(transaction));
        }

        var connection = mySqlTransaction.Connection
            ?? throw new ArgumentException("The transaction is no longer usable (committed, rolled back or disposed).", nameof(transaction));

        var written = 0;
        var start = 0;
        while (start < messages.Count)
        {
            var end = start;
            long bytes = 0;
            while (end < messages.Count && end - start < MaxRowsPerStatement && (end == start || bytes + messages[end].Payload.Length <= MaxBytesPerStatement))
            {
                bytes += messages[end].Payload.Length;
                end++;
            }

            await using var command = CreateInsert(connection, mySqlTransaction, messages, start, end, now);
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                written += end - start - (int)reader.GetInt64(0);
                // Through the insert's result, so that its error (if any) surfaces here.
                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                {
                }
            }

            start = end;
        }

        return written;
    }

    private MySqlCommand CreateInsert(MySqlConnection connection, MySqlTransaction transaction, IReadOnlyList<OutboxMessage> messages, int start, int end, DateTimeOffset now)
    {
        var ids = new StringBuilder();
        for (var i = start; i < end; i++)
        {
            ids.Append(System.Globalization.CultureInfo.InvariantCulture, $"{(i == start ? "" : ",")}@i{i - start}");
        }

        var sql = new StringBuilder($"SELECT COUNT(*) FROM {_table} WHERE id IN ({ids});", ((end - start) * 100) + 200);
        sql.Append(_insert);
        var command = new MySqlCommand { Connection = connection, Transaction = transaction };
        var p = command.Parameters;
        var created = MySqlValues.ToDb(now);
        for (var i = start; i < end; i++)
        {
            var m = messages[i];
            var n = i - start;
            if (n > 0)
            {
                sql.Append(',');
            }

            sql.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"(@i{n},@s{n},@t{n},@k{n},@y{n},@p{n},@h{n},@c,@a{n},@m{n})");
            // A message delayed into the future is scheduled (OutboxState.Scheduled): it holds back later messages of its key and
            // is claimed through the due-time index. Anything else is ready at once (OutboxState.Ready).
            var delayed = m.AvailableAt is { } at && at > now;
            p.AddWithValue($"@i{n}", MySqlValues.ToDb(m.Id));
            p.AddWithValue($"@s{n}", delayed ? OutboxState.Scheduled : OutboxState.Ready);
            p.AddWithValue($"@t{n}", m.Topic);
            p.AddWithValue($"@k{n}", m.Key);
            p.AddWithValue($"@y{n}", m.Type);
            p.AddWithValue($"@p{n}", m.Payload);
            p.AddWithValue($"@h{n}", HeaderSerializer.Serialize(m.Headers));
            p.AddWithValue($"@a{n}", delayed ? MySqlValues.ToDb(m.AvailableAt!.Value) : created);
            p.AddWithValue($"@m{n}", m.MaxAttempts);
        }

        p.AddWithValue("@c", created);
        sql.Append(" ON DUPLICATE KEY UPDATE id = id");
        command.CommandText = sql.ToString();
        return command;
    }
}
