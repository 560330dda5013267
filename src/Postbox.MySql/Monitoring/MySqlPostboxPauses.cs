using System.Data;
using System.Data.Common;
using MySqlConnector;
using Postbox.Monitoring;
using Postbox.Storage;

namespace Postbox.MySql.Monitoring;

/// <summary>
/// <see cref="IPostboxPauses"/> over the MySQL/MariaDB <c>pauses</c> table (migration 006). Resume locks the claim-lock
/// row first (as a claim does), so it is ordered after any claim in progress (see <see cref="SqlPostboxPauses"/>); READ
/// COMMITTED like every Postbox write here (no gap locks).
/// </summary>
internal sealed class MySqlPostboxPauses : SqlPostboxPauses
{
    private readonly MySqlDataSource _dataSource;
    private readonly MySqlTables _tables;

    /// <summary>Creates the pause store.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the table prefix).</param>
    /// <param name="timeProvider">Clock for paused_at; <see cref="TimeProvider.System"/> when omitted.</param>
    public MySqlPostboxPauses(MySqlDataSource dataSource, MySqlOptions options, TimeProvider? timeProvider = null)
        : this(dataSource, new MySqlTables((options ?? throw new ArgumentNullException(nameof(options))).TablePrefix), timeProvider)
    {
    }

    private MySqlPostboxPauses(MySqlDataSource dataSource, MySqlTables tables, TimeProvider? timeProvider)
        : base(tables.Pauses, timeProvider)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _tables = tables;
    }

    protected override string InsertIfMissing =>
        $"INSERT IGNORE INTO {Pauses} (side, name, paused_at, paused_by) VALUES (@p0, @p1, @p2, @p3)";

    protected override string? ResumeLock => $"SELECT id FROM {_tables.ClaimLock} WHERE id = 1 FOR UPDATE";

    // Through outbox_class_due_idx: parked rows are claim class 2 (keyless scheduled) due at ParkedUntil, one range.
    protected override string Unpark =>
        $"UPDATE {_tables.Outbox} SET state = {OutboxState.Ready}, available_at = @p1 WHERE claim_class = 2 AND available_at = @p2 AND state = {OutboxState.Scheduled} AND topic = @p0";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override async ValueTask<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    protected override object ToDb(DateTimeOffset at) => MySqlValues.ToDb(at);

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => MySqlValues.FromDb(reader.GetDateTime(ordinal));
}
