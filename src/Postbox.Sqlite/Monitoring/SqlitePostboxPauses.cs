using System.Data.Common;
using Postbox.Monitoring;
using Postbox.Storage;

namespace Postbox.Sqlite.Monitoring;

/// <summary>
/// <see cref="IPostboxPauses"/> over the SQLite <c>pauses</c> table (migration 006). Needs no lock of its own: SQLite
/// runs one write transaction at a time and claims begin theirs immediately, so a resume commits before a claim reads
/// the pauses or after it has committed (see <see cref="SqlPostboxPauses"/>).
/// </summary>
internal sealed class SqlitePostboxPauses : SqlPostboxPauses
{
    private readonly string _connectionString;
    private readonly SqliteTables _tables;

    /// <summary>Creates the pause store.</summary>
    /// <param name="options">Store options.</param>
    /// <param name="timeProvider">Clock for paused_at; <see cref="TimeProvider.System"/> when omitted.</param>
    public SqlitePostboxPauses(SqliteOptions options, TimeProvider? timeProvider = null)
        : this(options ?? throw new ArgumentNullException(nameof(options)), new SqliteTables(options.TablePrefix), timeProvider)
    {
    }

    private SqlitePostboxPauses(SqliteOptions options, SqliteTables tables, TimeProvider? timeProvider)
        : base(tables.Pauses, timeProvider)
    {
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));
        _tables = tables;
    }

    protected override string InsertIfMissing =>
        $"INSERT OR IGNORE INTO {Pauses} (side, name, paused_at, paused_by) VALUES (@p0, @p1, @p2, @p3)";

    protected override string? ResumeLock => null;

    protected override string Unpark =>
        $"UPDATE {_tables.Outbox} SET state = {OutboxState.Ready}, available_at = @p1 WHERE state = {OutboxState.Scheduled} AND key IS NULL AND available_at = @p2 AND topic = @p0";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);

    protected override object ToDb(DateTimeOffset at) => SqliteTime.ToTicks(at);

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => SqliteTime.FromTicks(reader.GetInt64(ordinal));
}
