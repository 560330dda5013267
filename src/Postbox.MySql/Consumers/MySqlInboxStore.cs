using System.Data;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MySqlConnector;
using Postbox.Consumers;
using Postbox.Storage;

namespace Postbox.MySql.Consumers;

/// <summary>
/// The MySQL/MariaDB inbox (table <c>{prefix}inbox</c>, migration 002), with the PostgreSQL inbox's semantics (see
/// <c>docs/consumers.md</c>): dedupe rows written in the handler's transaction, durable retries claimed under a lease,
/// dead letters with their error history, replay.
/// </summary>
/// <remarks>
/// A handler's transaction runs at READ COMMITTED, as on PostgreSQL, and starts with <c>INSERT IGNORE</c> of the
/// (message, consumer) row: a concurrent copy of the same message waits on that row's lock and, once the first copy
/// commits, inserts nothing (a duplicate) or, if it rolled back, inserts and runs. Retries are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c> (MySQL 8.0, MariaDB 10.6): a retry being handled holds its row lock.
/// </remarks>
internal sealed class MySqlInboxStore : IInboxStore, IInboxAdmin
{
    private const int MaxErrors = 50;
    private const int MaxErrorLength = 2000;
    private const string Columns = "message_id, consumer, topic, type, state, attempts, errors, received_at, processed_at, next_attempt_at, dead_at, replays";
    private const string NewError = "JSON_OBJECT('attempt', @attempt, 'at', @at, 'error', @error)";

    private readonly MySqlDataSource _dataSource;
    private readonly string _t;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    /// <summary>Creates the inbox over <paramref name="dataSource"/> for the tables in <paramref name="options"/>.</summary>
    /// <param name="dataSource">Connection source (pooled). Each message in flight holds one connection.</param>
    /// <param name="options">Store options (the table prefix).</param>
    /// <param name="timeProvider">Clock for replays; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <param name="logger">Logger; optional.</param>
    public MySqlInboxStore(MySqlDataSource dataSource, MySqlOptions options, TimeProvider? timeProvider = null, ILogger<MySqlInboxStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _t = new MySqlTables(options.TablePrefix).Inbox;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public Task<InboxTransaction?> BeginAsync(Guid messageId, string consumer, string topic, DateTimeOffset now, CancellationToken cancellationToken) =>
        BeginAsync($"""
            INSERT IGNORE INTO {_t} (message_id, consumer, state, topic, attempts, errors, received_at, processed_at)
            VALUES (@id, @consumer, {InboxRowState.Processed}, @third, 1, '[]', @now, @now)
            """, messageId, consumer, topic, now, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// The insert is a plain <c>INSERT IGNORE ... VALUES</c> followed, in the same round trip, by the key check: not an
    /// <c>INSERT ... SELECT ... WHERE NOT EXISTS</c>, which under <c>innodb_autoinc_lock_mode = 1</c> (MariaDB's
    /// default) holds the table's AUTO-INC lock (of <c>seq</c>) while it waits for a concurrent duplicate, stalling every
    /// insert into the inbox. When the key is held, the row just inserted is rolled back. Whether a row was inserted
    /// also tells a duplicate from a held key, so no further query is needed.
    /// </remarks>
    public async Task<KeyedInboxBegin> BeginInKeyOrderAsync(Guid messageId, string consumer, string topic, string key, bool deadBlocksKey,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        MySqlTransaction? transaction = null;
        try
        {
            transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            // The check reads committed rows after the insert (which may have waited for a concurrent copy); the new
            // row is processed (state 1), so it is never in pending_key itself.
            await using var command = new MySqlCommand($"""
                INSERT IGNORE INTO {_t} (message_id, consumer, state, topic, attempts, errors, received_at, processed_at)
                VALUES (@id, @consumer, {InboxRowState.Processed}, @topic, 1, '[]', @now, @now);
                SELECT ROW_COUNT(), EXISTS (SELECT 1 FROM {_t} e
                    WHERE e.consumer = @consumer AND e.pending_key = @key AND (e.state = {InboxRowState.Retrying} OR (e.state = {InboxRowState.Dead} AND @dead)));
                """, connection, transaction);
            command.Parameters.AddWithValue("@id", MySqlValues.ToDb(messageId));
            command.Parameters.AddWithValue("@consumer", consumer);
            command.Parameters.AddWithValue("@topic", topic);
            command.Parameters.AddWithValue("@now", MySqlValues.ToDb(now));
            command.Parameters.AddWithValue("@key", key);
            command.Parameters.AddWithValue("@dead", deadBlocksKey);
            bool inserted, blocked;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                inserted = reader.GetInt64(0) == 1;
                blocked = reader.GetInt64(1) != 0;
            }

            if (inserted && !blocked)
            {
                return new KeyedInboxBegin(new MySqlInboxTransaction(connection, transaction), KeyBlocked: false);
            }

            if (inserted)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }

            await DisposeAsync(connection, transaction).ConfigureAwait(false);
            return new KeyedInboxBegin(null, KeyBlocked: inserted);
        }
        catch
        {
            await DisposeAsync(connection, transaction).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<bool> ParkAsync(InboxParking parking, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parking);
        // Due at once: the claim's key check holds it until everything before it (smaller seq) is finished.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, $"""
            INSERT IGNORE INTO {_t} (message_id, consumer, state, topic, `key`, type, payload, headers, attempts, errors, received_at, next_attempt_at)
            VALUES (@id, @consumer, {InboxRowState.Retrying}, @topic, @key, @type, @payload, @headers, 0, '[]', @now, @now)
            """);
        var p = command.Parameters;
        p.AddWithValue("@id", MySqlValues.ToDb(parking.MessageId));
        p.AddWithValue("@consumer", parking.Consumer);
        p.AddWithValue("@topic", parking.Topic);
        p.AddWithValue("@key", parking.Key);
        p.AddWithValue("@type", parking.Type);
        p.AddWithValue("@payload", parking.Payload.ToArray());
        p.AddWithValue("@headers", HeaderSerializer.Serialize(new Dictionary<string, string>(parking.Headers)));
        p.AddWithValue("@now", MySqlValues.ToDb(parking.At));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public Task<InboxTransaction?> BeginRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken) =>
        // The payload copy is no longer needed once handled.
        BeginAsync($"""
            UPDATE {_t} SET state = {InboxRowState.Processed}, attempts = attempts + 1, processed_at = @now, next_attempt_at = NULL, lease_owner = NULL, payload = NULL
            WHERE message_id = @id AND consumer = @consumer AND state = {InboxRowState.Retrying} AND lease_owner = @third
            """, messageId, consumer, owner, now, cancellationToken);

    private async Task<InboxTransaction?> BeginAsync(string sql, Guid messageId, string consumer, string third, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        MySqlTransaction? transaction = null;
        try
        {
            transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            await using var command = new MySqlCommand(sql, connection, transaction);
            command.Parameters.AddWithValue("@id", MySqlValues.ToDb(messageId));
            command.Parameters.AddWithValue("@consumer", consumer);
            command.Parameters.AddWithValue("@third", third);
            command.Parameters.AddWithValue("@now", MySqlValues.ToDb(now));
            if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
            {
                return new MySqlInboxTransaction(connection, transaction);
            }
        }
        catch
        {
            await DisposeAsync(connection, transaction).ConfigureAwait(false);
            throw;
        }

        await DisposeAsync(connection, transaction).ConfigureAwait(false);
        return null;
    }

    private static async ValueTask DisposeAsync(MySqlConnection connection, MySqlTransaction? transaction)
    {
        if (transaction is not null)
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> RecordFailureAsync(InboxFailure failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var dead = failure.NextAttemptAt is null;
        // Keep the last 50 errors: a message replayed many times must not grow its row without bound.
        var sql = failure.Owner is null
            ? $"""
               INSERT IGNORE INTO {_t} (message_id, consumer, state, topic, `key`, type, payload, headers, attempts, errors, received_at, next_attempt_at, dead_at)
               VALUES (@id, @consumer, @state, @topic, @key, @type, @payload, @headers, @attempt, JSON_ARRAY({NewError}), @now, @next, @dead)
               """
            : $"""
               UPDATE {_t} SET attempts = @attempt,
                   errors = JSON_ARRAY_APPEND(IF(JSON_LENGTH(errors) >= {MaxErrors}, JSON_REMOVE(errors, '$[0]'), errors), '$', {NewError}),
                   state = @state, next_attempt_at = @next, dead_at = @dead, lease_owner = NULL
               WHERE message_id = @id AND consumer = @consumer AND state = {InboxRowState.Retrying} AND lease_owner = @owner
               """;
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, sql);
        var p = command.Parameters;
        p.AddWithValue("@id", MySqlValues.ToDb(failure.MessageId));
        p.AddWithValue("@consumer", failure.Consumer);
        p.AddWithValue("@state", dead ? InboxRowState.Dead : InboxRowState.Retrying);
        p.AddWithValue("@attempt", failure.Attempt);
        p.AddWithValue("@at", failure.At.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        p.AddWithValue("@error", failure.Error.Length > MaxErrorLength ? failure.Error[..MaxErrorLength] : failure.Error);
        p.AddWithValue("@now", MySqlValues.ToDb(failure.At));
        p.AddWithValue("@next", failure.NextAttemptAt is { } next ? MySqlValues.ToDb(next) : null);
        p.AddWithValue("@dead", dead ? MySqlValues.ToDb(failure.At) : null);
        p.AddWithValue("@owner", failure.Owner);
        p.AddWithValue("@topic", failure.Topic);
        p.AddWithValue("@key", failure.Key);
        p.AddWithValue("@type", failure.Type);
        p.AddWithValue("@payload", failure.Payload);
        p.AddWithValue("@headers", HeaderSerializer.Serialize(new Dictionary<string, string>(failure.Headers)));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<InboxRetry>> ClaimRetriesAsync(RetryClaimRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Consumers.Count == 0)
        {
            return [];
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        var result = new List<InboxRetry>();
        await using (var select = new MySqlCommand { Connection = connection, Transaction = transaction })
        {
            var consumers = InList(select.Parameters, "c", request.Consumers);
            // For an ordered consumer only a key's head is claimable: a claimed (leased) head stays in state 2, so
            // nothing after it is claimed meanwhile; a head being handled holds its row lock, and this subquery (a
            // non-locking read) still sees it committed in state 2. IN () is not SQL: an empty list drops the clause.
            var headOnly = "";
            if (request.OrderedConsumers.Count > 0)
            {
                var ordered = InList(select.Parameters, "o", request.OrderedConsumers);
                var deadBlocking = request.DeadBlockingConsumers.Count == 0
                    ? "FALSE"
                    : $"e.consumer IN ({InList(select.Parameters, "b", request.DeadBlockingConsumers)})";
                headOnly = $"""
                    AND (r.`key` IS NULL OR r.consumer NOT IN ({ordered}) OR NOT EXISTS (
                        SELECT 1 FROM {_t} e WHERE e.consumer = r.consumer AND e.pending_key = r.`key` AND e.seq < r.seq
                          AND (e.state = {InboxRowState.Retrying} OR (e.state = {InboxRowState.Dead} AND {deadBlocking}))))
                    """;
            }

            select.CommandText = $"""
                SELECT r.message_id, r.consumer, r.topic, r.`key`, r.type, r.payload, r.headers, r.attempts FROM {_t} r
                WHERE r.state = {InboxRowState.Retrying} AND r.next_attempt_at <= @now AND r.consumer IN ({consumers})
                {headOnly}
                ORDER BY r.next_attempt_at LIMIT @limit FOR UPDATE SKIP LOCKED
                """;
            select.Parameters.AddWithValue("@now", MySqlValues.ToDb(request.Now));
            select.Parameters.AddWithValue("@limit", request.Limit);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new InboxRetry(
                    MessageId: MySqlValues.ReadGuid(reader, 0),
                    Consumer: reader.GetString(1),
                    Topic: reader.GetString(2),
                    Key: MySqlValues.NullableString(reader, 3),
                    Type: MySqlValues.NullableString(reader, 4),
                    Payload: reader.IsDBNull(5) ? ReadOnlyMemory<byte>.Empty : reader.GetFieldValue<byte[]>(5),
                    Headers: HeaderSerializer.Deserialize(MySqlValues.NullableString(reader, 6)),
                    Attempts: reader.GetInt32(7)));
            }
        }

        if (result.Count > 0)
        {
            await using var update = new MySqlCommand { Connection = connection, Transaction = transaction };
            var keys = new StringBuilder();
            for (var i = 0; i < result.Count; i++)
            {
                keys.Append(CultureInfo.InvariantCulture, $"{(i == 0 ? "" : ",")}(@i{i},@n{i})");
                update.Parameters.AddWithValue(string.Create(CultureInfo.InvariantCulture, $"@i{i}"), MySqlValues.ToDb(result[i].MessageId));
                update.Parameters.AddWithValue(string.Create(CultureInfo.InvariantCulture, $"@n{i}"), result[i].Consumer);
            }

            update.CommandText = $"UPDATE {_t} SET lease_owner = @owner, next_attempt_at = @lease WHERE (message_id, consumer) IN ({keys})";
            update.Parameters.AddWithValue("@owner", request.Owner);
            update.Parameters.AddWithValue("@lease", MySqlValues.ToDb(request.LeaseUntil));
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    // "@{prefix}0,@{prefix}1,...", one parameter per value.
    private static string InList(MySqlParameterCollection parameters, string prefix, IReadOnlyList<string> values)
    {
        var list = new StringBuilder();
        for (var i = 0; i < values.Count; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"@{prefix}{i}");
            list.Append(i == 0 ? name : "," + name);
            parameters.AddWithValue(name, values[i]);
        }

        return list.ToString();
    }

    /// <inheritdoc />
    public async Task ReleaseRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, 
            $"UPDATE {_t} SET lease_owner = NULL, next_attempt_at = @now WHERE message_id = @id AND consumer = @consumer AND state = {InboxRowState.Retrying} AND lease_owner = @owner");
        command.Parameters.AddWithValue("@id", MySqlValues.ToDb(messageId));
        command.Parameters.AddWithValue("@consumer", consumer);
        command.Parameters.AddWithValue("@owner", owner);
        command.Parameters.AddWithValue("@now", MySqlValues.ToDb(now));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeProcessedAsync(DateTimeOffset processedBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, 
            $"DELETE FROM {_t} WHERE state = {InboxRowState.Processed} AND processed_at < @before ORDER BY processed_at LIMIT @limit");
        command.Parameters.AddWithValue("@before", MySqlValues.ToDb(processedBefore));
        command.Parameters.AddWithValue("@limit", batchSize);
        return await MySqlValues.ExecuteReadCommittedAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<InboxEntry?> GetAsync(string consumer, Guid messageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, $"SELECT {Columns} FROM {_t} WHERE message_id = @id AND consumer = @consumer");
        command.Parameters.AddWithValue("@id", MySqlValues.ToDb(messageId));
        command.Parameters.AddWithValue("@consumer", consumer);
        var rows = await ReadEntriesAsync(command, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<InboxEntry>> ListDeadAsync(string? consumer, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, consumer is null
            ? $"SELECT {Columns} FROM {_t} WHERE state = {InboxRowState.Dead} ORDER BY dead_at DESC LIMIT @limit"
            : $"SELECT {Columns} FROM {_t} WHERE state = {InboxRowState.Dead} AND consumer = @consumer ORDER BY dead_at DESC LIMIT @limit");
        command.Parameters.AddWithValue("@limit", limit);
        command.Parameters.AddWithValue("@consumer", consumer);
        return await ReadEntriesAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> ReplayDeadAsync(string consumer, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return 0;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand { Connection = connection };
        var list = MySqlValues.AddIds(command, ids);

        command.Parameters.AddWithValue("@consumer", consumer);
        command.Parameters.AddWithValue("@now", MySqlValues.ToDb(_timeProvider.GetUtcNow()));
        // By primary key (message_id, consumer): record locks only.
        command.CommandText = $"""
            UPDATE {_t} SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = @now, dead_at = NULL, lease_owner = NULL, replays = replays + 1
            WHERE message_id IN ({list}) AND consumer = @consumer AND state = {InboxRowState.Dead}
            """;
        var replayed = await MySqlValues.ExecuteReadCommittedAsync(command, cancellationToken).ConfigureAwait(false);
        Log.Replayed(_logger, replayed, ids.Count, consumer);
        return replayed;
    }

    private static async Task<List<InboxEntry>> ReadEntriesAsync(MySqlCommand command, CancellationToken cancellationToken)
    {
        var result = new List<InboxEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new InboxEntry(
                MessageId: MySqlValues.ReadGuid(reader, 0),
                Consumer: reader.GetString(1),
                Topic: reader.GetString(2),
                Type: MySqlValues.NullableString(reader, 3),
                State: (InboxState)reader.GetInt32(4),
                Attempts: reader.GetInt32(5),
                Errors: InboxErrorSerializer.Parse(reader.GetString(6)),
                ReceivedAt: MySqlValues.FromDb(reader.GetDateTime(7)),
                ProcessedAt: MySqlValues.NullableTime(reader, 8),
                NextAttemptAt: MySqlValues.NullableTime(reader, 9),
                DeadAt: MySqlValues.NullableTime(reader, 10),
                Replays: reader.GetInt32(11)));
        }

        return result;
    }
}
