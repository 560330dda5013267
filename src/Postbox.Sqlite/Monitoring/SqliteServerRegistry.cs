using System.Data.Common;
using Postbox.Monitoring;

namespace Postbox.Sqlite.Monitoring;

/// <summary><see cref="IServerRegistry"/> over the SQLite <c>servers</c> and <c>stats</c> tables (migration 007); times as UTC ticks.</summary>
internal sealed class SqliteServerRegistry : SqlServerRegistry
{
    private readonly string _connectionString;

    /// <summary>Creates the registry.</summary>
    /// <param name="options">Store options.</param>
    public SqliteServerRegistry(SqliteOptions options)
        : this(options ?? throw new ArgumentNullException(nameof(options)), new SqliteTables(options.TablePrefix))
    {
    }

    private SqliteServerRegistry(SqliteOptions options, SqliteTables tables)
        : base(tables.Prefix + "servers", tables.Prefix + "stats") =>
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));

    protected override string UpsertServer => $"""
        INSERT INTO {Servers} (owner_id, role, host, pid, started_at, heartbeat_at, heartbeat_ms, handlers) VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7)
        ON CONFLICT (owner_id) DO UPDATE SET role = excluded.role, host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
            heartbeat_at = excluded.heartbeat_at, heartbeat_ms = excluded.heartbeat_ms, handlers = excluded.handlers
        """;

    protected override string UpsertStats(string values) => $"""
        INSERT INTO {Stats} AS s (minute, side, name, handled, failed, dead, latency_sum_ms, latency_max_ms) VALUES {values}
        ON CONFLICT (minute, side, name) DO UPDATE SET handled = s.handled + excluded.handled, failed = s.failed + excluded.failed,
            dead = s.dead + excluded.dead, latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms,
            latency_max_ms = max(s.latency_max_ms, excluded.latency_max_ms)
        """;

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);

    protected override object ToDb(DateTimeOffset at) => SqliteTime.ToTicks(at);

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => SqliteTime.FromTicks(reader.GetInt64(ordinal));
}
