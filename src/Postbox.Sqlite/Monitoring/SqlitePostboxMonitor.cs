using System.Data.Common;
using Postbox.Monitoring;

namespace Postbox.Sqlite.Monitoring;

/// <summary>
/// <see cref="IPostboxMonitor"/> over the SQLite outbox and inbox tables (the statements are
/// <see cref="SqlPostboxMonitor"/>'s): keyset pages through the state indexes (migrations 002 and 005, the rowid as the
/// inbox's sequence), counts bounded per state. Ids are stored as text, times as UTC ticks.
/// </summary>
internal sealed class SqlitePostboxMonitor : SqlPostboxMonitor
{
    private readonly string _connectionString;
    private readonly SqliteTables _tables;

    /// <summary>Creates the monitor.</summary>
    /// <param name="options">Store options.</param>
    /// <param name="timeProvider">Clock for "retry now" and replays; <see cref="TimeProvider.System"/> when omitted.</param>
    public SqlitePostboxMonitor(SqliteOptions options, TimeProvider? timeProvider = null)
        : this(options ?? throw new ArgumentNullException(nameof(options)), new SqliteTables(options.TablePrefix), timeProvider)
    {
    }

    private SqlitePostboxMonitor(SqliteOptions options, SqliteTables tables, TimeProvider? timeProvider)
        : base(tables.Outbox, tables.Inbox, timeProvider)
    {
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));
        _tables = tables;
    }

    protected override string OutboxColumns =>
        "id, NULL, topic, key, type, state, attempts, created_at, available_at, delivered_at, last_error, last_attempt_at, seq";

    protected override string InboxColumns =>
        "message_id, consumer, topic, key, type, state, attempts, received_at, next_attempt_at, processed_at, json_extract(errors, '$[#-1].error'), dead_at, rowid, lease_owner";

    protected override string InboxSeq => "rowid";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);

    protected override object ToDb(Guid id) => id.ToString("D");

    protected override object ToDb(DateTimeOffset at) => SqliteTime.ToTicks(at);

    protected override Guid ReadId(DbDataReader reader, int ordinal) => Guid.Parse(reader.GetString(ordinal));

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => SqliteTime.FromTicks(reader.GetInt64(ordinal));

    protected override Task<DateTimeOffset?> OldestPendingOutboxAsync(DbConnection connection, CancellationToken cancellationToken) =>
        SqliteOutboxMonitor.OldestPendingAsync((Microsoft.Data.Sqlite.SqliteConnection)connection, _tables, cancellationToken);

    // Short statements: a writer holds SQLite's one write lock for the whole statement.
    protected override string BatchUpdate(MessageSide side, string table, string set, string where, int batch) => side == MessageSide.Outbox
        ? $"UPDATE {table} SET {set} WHERE seq IN (SELECT seq FROM {table} WHERE {where} ORDER BY seq LIMIT {batch})"
        : $"UPDATE {table} SET {set} WHERE rowid IN (SELECT rowid FROM {table} WHERE {where} LIMIT {batch})";
}
