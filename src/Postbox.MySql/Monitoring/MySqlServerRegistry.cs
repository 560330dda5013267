using System.Data;
using System.Data.Common;
using MySqlConnector;
using Postbox.Monitoring;

namespace Postbox.MySql.Monitoring;

/// <summary>
/// <see cref="IServerRegistry"/> over the MySQL/MariaDB <c>servers</c> and <c>stats</c> tables (migration 007); times as
/// UTC <c>DATETIME(6)</c>, writes at READ COMMITTED as the store's other writes.
/// </summary>
internal sealed class MySqlServerRegistry : SqlServerRegistry
{
    private readonly MySqlDataSource _dataSource;

    /// <summary>Creates the registry.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the table prefix).</param>
    public MySqlServerRegistry(MySqlDataSource dataSource, MySqlOptions options)
        : this(dataSource, new MySqlTables((options ?? throw new ArgumentNullException(nameof(options))).TablePrefix))
    {
    }

    private MySqlServerRegistry(MySqlDataSource dataSource, MySqlTables tables)
        : base(tables.Prefix + "servers", tables.Prefix + "stats") =>
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));

    // VALUES(col) names the row that would have been inserted (MariaDB; MySQL 8.0 still accepts it).
    protected override string UpsertServer => $"""
        INSERT INTO {Servers} (owner_id, role, host, pid, started_at, heartbeat_at, heartbeat_ms, handlers) VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7)
        ON DUPLICATE KEY UPDATE role = VALUES(role), host = VALUES(host), pid = VALUES(pid), started_at = VALUES(started_at),
            heartbeat_at = VALUES(heartbeat_at), heartbeat_ms = VALUES(heartbeat_ms), handlers = VALUES(handlers)
        """;

    protected override string UpsertStats(string values) => $"""
        INSERT INTO {Stats} (minute, side, name, handled, failed, dead, latency_sum_ms, latency_max_ms) VALUES {values}
        ON DUPLICATE KEY UPDATE latency_max_ms = GREATEST(latency_max_ms, VALUES(latency_max_ms)), handled = handled + VALUES(handled),
            failed = failed + VALUES(failed), dead = dead + VALUES(dead), latency_sum_ms = latency_sum_ms + VALUES(latency_sum_ms)
        """;

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override object ToDb(DateTimeOffset at) => MySqlValues.ToDb(at);

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => MySqlValues.FromDb(reader.GetDateTime(ordinal));

    protected override async ValueTask<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((MySqlConnection)connection).BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
}
