using System.Data.Common;
using Npgsql;
using Postbox.Monitoring;
using Postbox.Storage;

namespace Postbox.PostgreSql.Monitoring;

/// <summary>
/// <see cref="IPostboxPauses"/> over the PostgreSQL <c>pauses</c> table (migration 006). Resume takes the claim's
/// advisory lock, so it is ordered after any claim in progress (see <see cref="SqlPostboxPauses"/>), and notifies the
/// relays on the writer's channel so they claim the topic's messages at once.
/// </summary>
internal sealed class PostgreSqlPostboxPauses : SqlPostboxPauses
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlSchema _schema;
    private readonly PostgreSqlCommands _commands;

    /// <summary>Creates the pause store.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the schema).</param>
    /// <param name="timeProvider">Clock for paused_at; <see cref="TimeProvider.System"/> when omitted.</param>
    public PostgreSqlPostboxPauses(NpgsqlDataSource dataSource, PostgreSqlOptions options, TimeProvider? timeProvider = null)
        : this(dataSource, new PostgreSqlSchema((options ?? throw new ArgumentNullException(nameof(options))).Schema), timeProvider)
    {
    }

    private PostgreSqlPostboxPauses(NpgsqlDataSource dataSource, PostgreSqlSchema schema, TimeProvider? timeProvider)
        : base(schema.Pauses, timeProvider)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _schema = schema;
        _commands = new PostgreSqlCommands(schema);
    }

    protected override string InsertIfMissing =>
        $"INSERT INTO {Pauses} (side, name, paused_at, paused_by) VALUES (@p0, @p1, @p2, @p3) ON CONFLICT (side, name) DO NOTHING";

    protected override string? ResumeLock => _commands.ClaimLock;

    // Through outbox_due_idx: parked rows are the keyless scheduled rows due at ParkedUntil, one range of that index.
    protected override string Unpark =>
        $"UPDATE {_schema.Outbox} SET state = {OutboxState.Ready}, available_at = @p1 WHERE state = {OutboxState.Scheduled} AND key IS NULL AND available_at = @p2 AND topic = @p0";

    protected override string? WakeRelays => _commands.Notify;

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override object ToDb(DateTimeOffset at) => at.ToUniversalTime();

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);
}
