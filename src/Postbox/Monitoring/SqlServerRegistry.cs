using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Postbox.Monitoring;

/// <summary>
/// <see cref="IServerRegistry"/> for the SQL stores, written once over the tables of migration 007: <c>servers</c> (one row
/// per running relay or worker, keyed by owner id) and <c>stats</c> (one row per minute, side and topic or consumer).
/// Each store supplies its dialect: connections, how times are stored, and its upsert.
/// </summary>
/// <remarks>
/// Minutes are stored as whole minutes since the Unix epoch (UTC) in every store, so the buckets need no date arithmetic
/// in SQL. Handlers are stored as a JSON array of <c>{"topic","consumer","concurrency"}</c>. Statements use named
/// parameters (<c>@p0</c>, …), which Npgsql, Microsoft.Data.Sqlite and MySqlConnector all accept.
/// </remarks>
internal abstract class SqlServerRegistry : IServerRegistry
{
    // Buckets per statement: 9 parameters each, far below every store's parameter limit.
    private const int BucketsPerStatement = 200;

    private static readonly JsonSerializerOptions HandlerJson = JsonSerializerOptions.Web;

    /// <summary>Creates the registry.</summary>
    /// <param name="servers">The heartbeat table, as it is written in SQL.</param>
    /// <param name="stats">The per-minute table, as it is written in SQL.</param>
    protected SqlServerRegistry(string servers, string stats) => (Servers, Stats) = (servers, stats);

    /// <summary>The heartbeat table.</summary>
    protected string Servers { get; }

    /// <summary>The per-minute table.</summary>
    protected string Stats { get; }

    /// <summary>Opens a connection.</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A time as the store keeps it (UTC).</summary>
    protected abstract object ToDb(DateTimeOffset at);

    /// <summary>Reads a (non-null) time.</summary>
    protected abstract DateTimeOffset ReadTime(DbDataReader reader, int ordinal);

    /// <summary>
    /// The upsert of one heartbeat row: parameters <c>@p0</c> owner_id, <c>@p1</c> role, <c>@p2</c> host, <c>@p3</c> pid,
    /// <c>@p4</c> started_at, <c>@p5</c> heartbeat_at, <c>@p6</c> heartbeat_ms, <c>@p7</c> handlers; a conflict on
    /// owner_id replaces every column but owner_id.
    /// </summary>
    protected abstract string UpsertServer { get; }

    /// <summary>
    /// The upsert of buckets: <paramref name="values"/> is the list of <c>(minute, side, name, handled, failed, dead,
    /// latency_sum_ms, latency_max_ms)</c> tuples; a conflict on (minute, side, name) adds the counts and keeps the larger
    /// maximum.
    /// </summary>
    protected abstract string UpsertStats(string values);

    /// <summary>Begins the transaction of a write (a store may choose its isolation level).</summary>
    protected virtual ValueTask<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken) =>
        connection.BeginTransactionAsync(cancellationToken);

    /// <summary>The whole minute of <paramref name="at"/>, as stored.</summary>
    public static long ToMinute(DateTimeOffset at) => (long)Math.Floor(at.ToUnixTimeSeconds() / 60d);

    /// <summary>The start of a stored minute.</summary>
    public static DateTimeOffset FromMinute(long minute) => DateTimeOffset.FromUnixTimeSeconds(minute * 60);

    /// <inheritdoc />
    public async Task BeatAsync(ServerHeartbeat heartbeat, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        ArgumentNullException.ThrowIfNull(stats);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await BeginAsync(connection, cancellationToken).ConfigureAwait(false);
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            Add(command, heartbeat.OwnerId);
            Add(command, (short)heartbeat.Role);
            Add(command, heartbeat.Host);
            Add(command, heartbeat.ProcessId);
            Add(command, ToDb(heartbeat.StartedAt));
            Add(command, ToDb(heartbeat.HeartbeatAt));
            Add(command, checked((int)heartbeat.HeartbeatInterval.TotalMilliseconds));
            Add(command, JsonSerializer.Serialize(heartbeat.Handlers, HandlerJson));
            command.CommandText = UpsertServer;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await AddStatsAsync(connection, transaction, stats, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemoveAsync(string ownerId, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ownerId);
        ArgumentNullException.ThrowIfNull(stats);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await BeginAsync(connection, cancellationToken).ConfigureAwait(false);
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = $"DELETE FROM {Servers} WHERE owner_id = {Add(command, ownerId)}";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await AddStatsAsync(connection, transaction, stats, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PruneAsync(DateTimeOffset serversBefore, DateTimeOffset statsBefore, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await BeginAsync(connection, cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = $"DELETE FROM {Servers} WHERE heartbeat_at < {Add(command, ToDb(serversBefore))}";
            deleted += await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var command = connection.CreateCommand())
        {
            // Through the primary key (minute first). At most a day of minutes per topic and consumer exists, so one
            // statement stays short.
            command.Transaction = transaction;
            command.CommandText = $"DELETE FROM {Stats} WHERE minute < {Add(command, ToMinute(statsBefore))}";
            deleted += await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ServerHeartbeat>> ListServersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = string.Create(CultureInfo.InvariantCulture,
            $"SELECT owner_id, role, host, pid, started_at, heartbeat_at, heartbeat_ms, handlers FROM {Servers} ORDER BY role, owner_id LIMIT {IServerRegistry.MaxServers}");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var servers = new List<ServerHeartbeat>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            servers.Add(new ServerHeartbeat(reader.GetString(0), (ServerRole)Int(reader, 1), reader.GetString(2), Int(reader, 3),
                ReadTime(reader, 4), ReadTime(reader, 5), TimeSpan.FromMilliseconds(Int(reader, 6)),
                JsonSerializer.Deserialize<List<ServerHandler>>(reader.GetString(7), HandlerJson) ?? []));
        }

        return servers;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StatsBucket>> GetStatsAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT minute, side, name, handled, failed, dead, latency_sum_ms, latency_max_ms FROM {Stats}
            WHERE minute >= {Add(command, ToMinute(since))} ORDER BY minute, side, name
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var buckets = new List<StatsBucket>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            buckets.Add(new StatsBucket(FromMinute(Long(reader, 0)), (MessageSide)Int(reader, 1), reader.GetString(2),
                Long(reader, 3), Long(reader, 4), Long(reader, 5), Long(reader, 6), Long(reader, 7)));
        }

        return buckets;
    }

    private async Task AddStatsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken)
    {
        // Merged first (a statement may not touch a row twice), then sorted, so two writers upserting the same buckets
        // lock them in the same order and cannot deadlock.
        var ordered = stats.GroupBy(b => (Minute: ToMinute(b.Minute), b.Side, b.Name))
            .Select(g => new StatsBucket(FromMinute(g.Key.Minute), g.Key.Side, g.Key.Name, g.Sum(b => b.Handled), g.Sum(b => b.Failed), g.Sum(b => b.Dead),
                g.Sum(b => b.LatencySumMs), g.Max(b => b.LatencyMaxMs)))
            .OrderBy(b => b.Minute).ThenBy(b => b.Side).ThenBy(b => b.Name, StringComparer.Ordinal);
        foreach (var chunk in ordered.Chunk(BucketsPerStatement))
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            var values = new StringBuilder();
            foreach (var b in chunk)
            {
                values.Append(values.Length == 0 ? string.Empty : ", ").Append(CultureInfo.InvariantCulture,
                    $"({Add(command, ToMinute(b.Minute))}, {Add(command, (short)b.Side)}, {Add(command, b.Name)}, {Add(command, b.Handled)}, {Add(command, b.Failed)}, "
                    + $"{Add(command, b.Dead)}, {Add(command, b.LatencySumMs)}, {Add(command, b.LatencyMaxMs)})");
            }

            command.CommandText = UpsertStats(values.ToString());
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Adds a parameter and returns its placeholder.</summary>
    protected static string Add(DbCommand command, object value) => SqlParameters.Add(command, value);

    private static int Int(DbDataReader reader, int ordinal) => Convert.ToInt32(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    private static long Long(DbDataReader reader, int ordinal) => Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);
}
