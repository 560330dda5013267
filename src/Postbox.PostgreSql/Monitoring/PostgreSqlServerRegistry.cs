using System.Data.Common;
using Npgsql;
using Postbox.Monitoring;

namespace Postbox.PostgreSql.Monitoring;

/// <summary><see cref="IServerRegistry"/> over the PostgreSQL <c>servers</c> and <c>stats</c> tables (migration 007).</summary>
internal sealed class PostgreSqlServerRegistry : SqlServerRegistry
{
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Creates the registry.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the schema).</param>
    public PostgreSqlServerRegistry(NpgsqlDataSource dataSource, PostgreSqlOptions options)
        : this(dataSource, new PostgreSqlSchema((options ?? throw new ArgumentNullException(nameof(options))).Schema))
    {
    }

    private PostgreSqlServerRegistry(NpgsqlDataSource dataSource, PostgreSqlSchema schema)
        : base($"{schema.Quoted}.servers", $"{schema.Quoted}.stats") =>
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));

    protected override string UpsertServer => $"""
        INSERT INTO {Servers} (owner_id, role, host, pid, started_at, heartbeat_at, heartbeat_ms, handlers) VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7)
        ON CONFLICT (owner_id) DO UPDATE SET role = excluded.role, host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
            heartbeat_at = excluded.heartbeat_at, heartbeat_ms = excluded.heartbeat_ms, handlers = excluded.handlers
        """;

    protected override string UpsertStats(string values) => $"""
        INSERT INTO {Stats} AS s (minute, side, name, handled, failed, dead, latency_sum_ms, latency_max_ms) VALUES {values}
        ON CONFLICT (minute, side, name) DO UPDATE SET handled = s.handled + excluded.handled, failed = s.failed + excluded.failed,
            dead = s.dead + excluded.dead, latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms,
            latency_max_ms = greatest(s.latency_max_ms, excluded.latency_max_ms)
        """;

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override object ToDb(DateTimeOffset at) => at.ToUniversalTime();

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);
}
