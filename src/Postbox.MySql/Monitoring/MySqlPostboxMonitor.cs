using System.Data.Common;
using MySqlConnector;
using Postbox.Monitoring;

namespace Postbox.MySql.Monitoring;

/// <summary>
/// <see cref="IPostboxMonitor"/> over the MySQL/MariaDB outbox and inbox tables (the statements are
/// <see cref="SqlPostboxMonitor"/>'s): keyset pages through the state indexes of migration 005, counts bounded per state.
/// Ids are <c>BINARY(16)</c>, times UTC <c>DATETIME(6)</c>; every write runs at READ COMMITTED (see
/// <see cref="MySqlValues.ExecuteReadCommittedAsync"/>).
/// </summary>
internal sealed class MySqlPostboxMonitor : SqlPostboxMonitor
{
    private readonly MySqlDataSource _dataSource;
    private readonly MySqlTables _tables;

    /// <summary>Creates the monitor.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the table prefix).</param>
    /// <param name="timeProvider">Clock for "retry now" and replays; <see cref="TimeProvider.System"/> when omitted.</param>
    public MySqlPostboxMonitor(MySqlDataSource dataSource, MySqlOptions options, TimeProvider? timeProvider = null)
        : this(dataSource, new MySqlTables((options ?? throw new ArgumentNullException(nameof(options))).TablePrefix), timeProvider)
    {
    }

    private MySqlPostboxMonitor(MySqlDataSource dataSource, MySqlTables tables, TimeProvider? timeProvider)
        : base(tables.Outbox, tables.Inbox, timeProvider)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _tables = tables;
    }

    protected override string OutboxColumns =>
        "id, NULL, topic, `key`, type, state, attempts, created_at, available_at, delivered_at, last_error, last_attempt_at, seq";

    // The last error of the history: MySQL 8.0 has no negative array index in JSON paths (MariaDB has from 10.9), so the
    // path is built from the length; an empty history has none.
    protected override string InboxColumns =>
        "message_id, consumer, topic, `key`, type, state, attempts, received_at, next_attempt_at, processed_at, "
        + "CASE WHEN JSON_LENGTH(errors) > 0 THEN JSON_UNQUOTE(JSON_EXTRACT(errors, CONCAT('$[', JSON_LENGTH(errors) - 1, '].error'))) END, "
        + "dead_at, seq, lease_owner";

    protected override string KeyColumn => "`key`";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override object ToDb(Guid id) => MySqlValues.ToDb(id);

    protected override object ToDb(DateTimeOffset at) => MySqlValues.ToDb(at);

    protected override Guid ReadId(DbDataReader reader, int ordinal) => MySqlValues.ReadGuid(reader, ordinal);

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => MySqlValues.FromDb(reader.GetDateTime(ordinal));

    protected override async Task<DateTimeOffset?> OldestPendingOutboxAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = MySqlValues.Command((MySqlConnection)connection, MySqlOutboxStore.OldestPending(_tables));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await MySqlOutboxStore.ReadOldestPendingAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    // MySQL cannot update a table it reads in a subquery (nor LIMIT an IN subquery), but a single-table UPDATE takes
    // ORDER BY and LIMIT itself. At READ COMMITTED rows a concurrent transaction holds are waited for, not skipped.
    protected override string BatchUpdate(MessageSide side, string table, string set, string where, int batch) => side == MessageSide.Outbox
        ? $"UPDATE {table} SET {set} WHERE {where} ORDER BY seq LIMIT {batch}"
        : $"UPDATE {table} SET {set} WHERE {where} LIMIT {batch}";

    protected override Task<int> ExecuteWriteAsync(DbCommand command, CancellationToken cancellationToken) =>
        MySqlValues.ExecuteReadCommittedAsync((MySqlCommand)command, cancellationToken);
}
