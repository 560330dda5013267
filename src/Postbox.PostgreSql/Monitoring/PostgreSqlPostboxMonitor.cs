using System.Data.Common;
using Npgsql;
using Postbox.Monitoring;

namespace Postbox.PostgreSql.Monitoring;

/// <summary>
/// <see cref="IPostboxMonitor"/> over the PostgreSQL outbox and inbox tables (the statements are
/// <see cref="SqlPostboxMonitor"/>'s). Every list reads one state through that state's partial index (migrations 001,
/// 002 and 005) and pages by keyset; every count stops at its bound.
/// </summary>
internal sealed class PostgreSqlPostboxMonitor : SqlPostboxMonitor
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlCommands _commands;

    /// <summary>Creates the monitor.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the schema).</param>
    /// <param name="timeProvider">Clock for "retry now" and replays; <see cref="TimeProvider.System"/> when omitted.</param>
    public PostgreSqlPostboxMonitor(NpgsqlDataSource dataSource, PostgreSqlOptions options, TimeProvider? timeProvider = null)
        : this(dataSource, new PostgreSqlSchema((options ?? throw new ArgumentNullException(nameof(options))).Schema), timeProvider)
    {
    }

    private PostgreSqlPostboxMonitor(NpgsqlDataSource dataSource, PostgreSqlSchema schema, TimeProvider? timeProvider)
        : base(schema.Outbox, $"{schema.Quoted}.inbox", timeProvider)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _commands = new PostgreSqlCommands(schema);
    }

    protected override string OutboxColumns =>
        "id, NULL::text, topic, key, type, state, attempts, created_at, available_at, delivered_at, last_error, last_attempt_at, seq";

    protected override string InboxColumns =>
        "message_id, consumer, topic, key, type, state, attempts, received_at, next_attempt_at, processed_at, errors->-1->>'error', dead_at, seq, lease_owner";

    protected override string HeadersText => "headers::text";

    protected override string ErrorsText => "errors::text";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override object ToDb(Guid id) => id;

    protected override object ToDb(DateTimeOffset at) => at.ToUniversalTime();

    protected override Guid ReadId(DbDataReader reader, int ordinal) => reader.GetGuid(ordinal);

    protected override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);

    protected override async Task<DateTimeOffset?> OldestPendingOutboxAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = _commands.OldestPending;
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is DateTime utc ? new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)) : null;
    }

    // SKIP LOCKED leaves rows another operator is replaying at this moment.
    protected override string BatchUpdate(MessageSide side, string table, string set, string where, int batch) => side == MessageSide.Outbox
        ? $"UPDATE {table} SET {set} WHERE id IN (SELECT id FROM {table} WHERE {where} ORDER BY seq LIMIT {batch} FOR UPDATE SKIP LOCKED)"
        : $"UPDATE {table} SET {set} WHERE (message_id, consumer) IN (SELECT message_id, consumer FROM {table} WHERE {where} LIMIT {batch} FOR UPDATE SKIP LOCKED)";
}
