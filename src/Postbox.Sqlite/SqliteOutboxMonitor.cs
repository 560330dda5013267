using Microsoft.Data.Sqlite;
using Postbox.Storage;

namespace Postbox.Sqlite;

/// <summary>Monitoring queries and replay for the SQLite store.</summary>
internal sealed class SqliteOutboxMonitor : IOutboxMonitor
{
    private readonly string _connectionString;
    private readonly SqliteTables _tables;

    /// <summary>Creates the monitor.</summary>
    /// <param name="options">Store options.</param>
    public SqliteOutboxMonitor(SqliteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));
        _tables = new SqliteTables(options.TablePrefix);
    }

    /// <inheritdoc />
    public async Task<OutboxStatistics> GetStatisticsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        var counts = new Dictionary<int, long>();
        await using (var command = new SqliteCommand($"SELECT state, count(*) FROM {_tables.Outbox} GROUP BY state", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[reader.GetInt32(0)] = reader.GetInt64(1);
            }
        }

        var oldest = await OldestPendingAsync(connection, _tables, cancellationToken).ConfigureAwait(false);
        return OutboxState.Statistics(counts, oldest);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DeadMessage>> ListDeadAsync(int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = new SqliteCommand($"""
            SELECT id, topic, key, type, attempts, last_error, created_at, last_attempt_at
            FROM {_tables.Outbox} WHERE state = {OutboxState.Dead} ORDER BY seq LIMIT $limit
            """, connection);
        command.Parameters.AddWithValue("$limit", limit);
        var result = new List<DeadMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new DeadMessage(
                Guid.Parse(reader.GetString(0)), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5), SqliteTime.FromTicks(reader.GetInt64(6)),
                reader.IsDBNull(7) ? null : SqliteTime.FromTicks(reader.GetInt64(7))));
        }

        return result;
    }

    /// <inheritdoc />
    public async Task<int> ReplayDeadAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return 0;
        }

        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = new SqliteCommand(
            $"UPDATE {_tables.Outbox} SET state = {OutboxState.Ready}, attempts = 0 WHERE id IN (SELECT value FROM json_each($ids)) AND state = {OutboxState.Dead}", connection);
        command.Parameters.AddWithValue("$ids", System.Text.Json.JsonSerializer.Serialize(ids.Select(i => i.ToString("D"))));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<DateTimeOffset?> OldestPendingAsync(SqliteConnection connection, SqliteTables tables, CancellationToken cancellationToken)
    {
        await using var command = new SqliteCommand($"""
            SELECT min(created_at) FROM (
                SELECT created_at FROM (SELECT created_at FROM {tables.Outbox} WHERE state = {OutboxState.Ready} AND key IS NULL ORDER BY seq LIMIT 1)
                UNION ALL
                SELECT min(created_at) FROM {tables.Outbox} WHERE state IN ({OutboxState.InFlight}, {OutboxState.Scheduled}) AND key IS NULL
                UNION ALL
                SELECT min(created_at) FROM {tables.Outbox} WHERE state IN ({OutboxState.Ready}, {OutboxState.InFlight}, {OutboxState.Scheduled}) AND key IS NOT NULL)
            """, connection);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is long ticks ? SqliteTime.FromTicks(ticks) : null;
    }
}
