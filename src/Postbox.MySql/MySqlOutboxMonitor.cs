using MySqlConnector;
using Postbox.Storage;

namespace Postbox.MySql;

/// <summary>Monitoring queries and replay for the MySQL/MariaDB store.</summary>
internal sealed class MySqlOutboxMonitor : IOutboxMonitor
{
    private readonly MySqlDataSource _dataSource;
    private readonly MySqlTables _tables;

    /// <summary>Creates the monitor.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the table prefix).</param>
    public MySqlOutboxMonitor(MySqlDataSource dataSource, MySqlOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _tables = new MySqlTables(options.TablePrefix);
    }

    /// <inheritdoc />
    public async Task<OutboxStatistics> GetStatisticsAsync(CancellationToken cancellationToken)
    {
        var counts = new Dictionary<int, long>();
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, 
            $"SELECT state, count(*) FROM {_tables.Outbox} GROUP BY state; {MySqlOutboxStore.OldestPending(_tables)}");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            counts[reader.GetInt32(0)] = reader.GetInt64(1);
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var oldest = await MySqlOutboxStore.ReadOldestPendingAsync(reader, cancellationToken).ConfigureAwait(false);
        return OutboxState.Statistics(counts, oldest);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DeadMessage>> ListDeadAsync(int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, $"""
            SELECT id, topic, `key`, type, attempts, last_error, created_at, last_attempt_at
            FROM {_tables.Outbox} WHERE claim_class = 4 ORDER BY seq LIMIT @limit
            """);
        command.Parameters.AddWithValue("@limit", limit);
        var result = new List<DeadMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new DeadMessage(
                MySqlValues.ReadGuid(reader, 0), reader.GetString(1), MySqlValues.NullableString(reader, 2), MySqlValues.NullableString(reader, 3),
                reader.GetInt32(4), MySqlValues.NullableString(reader, 5), MySqlValues.FromDb(reader.GetDateTime(6)), MySqlValues.NullableTime(reader, 7)));
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

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        await using var command = new MySqlCommand { Connection = connection };
        var list = MySqlValues.AddIds(command, ids);

        command.CommandText = $"UPDATE {_tables.Outbox} FORCE INDEX ({_tables.Outbox}_id_key) SET state = {OutboxState.Ready}, attempts = 0 WHERE id IN ({list}) AND state = {OutboxState.Dead}";
        return await MySqlValues.ExecuteReadCommittedAsync(command, cancellationToken).ConfigureAwait(false);
    }
}
