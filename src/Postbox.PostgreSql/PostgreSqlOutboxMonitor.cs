using Npgsql;
using NpgsqlTypes;
using Postbox.Storage;

namespace Postbox.PostgreSql;

/// <summary>Monitoring queries and replay for the PostgreSQL store.</summary>
internal sealed class PostgreSqlOutboxMonitor : IOutboxMonitor
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlSchema _schema;
    private readonly PostgreSqlCommands _commands;

    /// <summary>Creates the monitor.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the schema).</param>
    public PostgreSqlOutboxMonitor(NpgsqlDataSource dataSource, PostgreSqlOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _schema = new PostgreSqlSchema(options.Schema);
        _commands = new PostgreSqlCommands(_schema);
    }

    /// <inheritdoc />
    public async Task<OutboxStatistics> GetStatisticsAsync(CancellationToken cancellationToken)
    {
        var counts = new Dictionary<int, long>();
        await using (var command = _dataSource.CreateCommand($"SELECT state, count(*) FROM {_schema.Outbox} GROUP BY state"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[reader.GetInt16(0)] = reader.GetInt64(1);
            }
        }

        await using var oldest = _dataSource.CreateCommand(_commands.OldestPending);
        var value = await oldest.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        DateTimeOffset? oldestAt = value is DateTime utc ? new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)) : null;
        return OutboxState.Statistics(counts, oldestAt);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DeadMessage>> ListDeadAsync(int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var command = _dataSource.CreateCommand($"""
            SELECT id, topic, key, type, attempts, last_error, created_at, last_attempt_at
            FROM {_schema.Outbox} WHERE state = {OutboxState.Dead} ORDER BY seq LIMIT $1
            """);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var result = new List<DeadMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new DeadMessage(
                reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7)));
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

        await using var command = _dataSource.CreateCommand($"UPDATE {_schema.Outbox} SET state = {OutboxState.Ready}, attempts = 0 WHERE id = ANY($1) AND state = {OutboxState.Dead}");
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
