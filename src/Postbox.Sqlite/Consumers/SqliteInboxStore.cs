using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postbox.Consumers;
using Postbox.Storage;

namespace Postbox.Sqlite.Consumers;

/// <summary>
/// The consumers' inbox on SQLite, with the PostgreSQL inbox's semantics (see <c>docs/consumers.md</c>): one row per
/// (message, consumer) recording it processed in the handler's transaction, retrying with its payload and error
/// history, or dead. SQLite has one writer: concurrent duplicates in this process are serialized by a lock per key
/// (the role PostgreSQL's primary-key lock plays), and the row is written at commit (see
/// <see cref="SqliteInboxTransaction"/>) so a running handler does not hold the database's write lock.
/// </summary>
internal sealed class SqliteInboxStore : IInboxStore, IInboxAdmin
{
    private const int MaxErrors = 50;
    private const int MaxErrorLength = 2000;
    private const string Columns = "message_id, consumer, topic, type, state, attempts, errors, received_at, processed_at, next_attempt_at, dead_at, replays";
    private readonly string _connectionString;
    private readonly string _table;
    private readonly TimeProvider _timeProvider;
    private readonly KeyedLock<(Guid, string)> _locks = new();

    /// <summary>Creates the inbox store.</summary>
    /// <param name="options">Store options (connection string, table prefix).</param>
    /// <param name="timeProvider">Clock for replays; the system clock when omitted.</param>
    public SqliteInboxStore(SqliteOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));
        _table = new SqliteTables(options.TablePrefix).Inbox;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async Task<InboxTransaction?> BeginAsync(Guid messageId, string consumer, string topic, DateTimeOffset now, CancellationToken cancellationToken) =>
        await BeginCoreAsync(messageId, consumer, $"SELECT count(*) FROM {_table} WHERE message_id = @id AND consumer = @consumer", null,
            async (transaction, ct) =>
            {
                await using var insert = Command(transaction.Connection!, transaction, $"""
                    INSERT INTO {_table} (message_id, consumer, state, topic, attempts, received_at, processed_at)
                    VALUES (@id, @consumer, {InboxRowState.Processed}, @topic, 1, @now, @now)
                    ON CONFLICT (message_id, consumer) DO NOTHING
                    """, ("id", Id(messageId)), ("consumer", consumer), ("topic", topic), ("now", now.UtcTicks));
                if (await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false) != 1)
                {
                    // Another process on the same file recorded it meanwhile: roll back this attempt's effects.
                    throw new InvalidOperationException($"Message {messageId} was recorded for {consumer} by another process.");
                }
            }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task<KeyedInboxBegin> BeginInKeyOrderAsync(Guid messageId, string consumer, string topic, string key, bool deadBlocksKey,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Checked before the transaction, like the duplicate check (see BeginCoreAsync). Nothing can slip in between in
        // this single-node store: the runtime runs a key's deliveries one at a time, and a claimed retry of the key stays
        // a retrying row until its own transaction commits.
        await using (var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false))
        {
            await using var check = Command(connection, null, $"""
                SELECT EXISTS (SELECT 1 FROM {_table} WHERE consumer = @consumer AND key = @key AND key IS NOT NULL AND (state = {InboxRowState.Retrying} OR (state = {InboxRowState.Dead} AND @dead))),
                       EXISTS (SELECT 1 FROM {_table} WHERE message_id = @id AND consumer = @consumer)
                """, ("consumer", consumer), ("key", key), ("dead", deadBlocksKey ? 1 : 0), ("id", Id(messageId)));
            await using var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var blocked = reader.GetInt64(0) != 0;
            var recorded = reader.GetInt64(1) != 0;
            if (blocked || recorded)
            {
                return new KeyedInboxBegin(null, KeyBlocked: !recorded);
            }
        }

        return new KeyedInboxBegin(await BeginAsync(messageId, consumer, topic, now, cancellationToken).ConfigureAwait(false), KeyBlocked: false);
    }

    /// <inheritdoc />
    public async Task<bool> ParkAsync(InboxParking parking, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parking);
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, $"""
            INSERT INTO {_table} (message_id, consumer, state, topic, key, type, payload, headers, attempts, received_at, next_attempt_at)
            VALUES (@id, @consumer, {InboxRowState.Retrying}, @topic, @key, @type, @payload, @headers, 0, @now, @now)
            ON CONFLICT (message_id, consumer) DO NOTHING
            """, ("id", Id(parking.MessageId)), ("consumer", parking.Consumer), ("topic", parking.Topic), ("key", parking.Key), ("type", parking.Type),
            ("payload", parking.Payload.ToArray()), ("headers", HeaderSerializer.Serialize(new Dictionary<string, string>(parking.Headers))),
            ("now", parking.At.UtcTicks));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<InboxTransaction?> BeginRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken) =>
        await BeginCoreAsync(messageId, consumer,
            $"SELECT count(*) FROM {_table} WHERE message_id = @id AND consumer = @consumer AND (state <> {InboxRowState.Retrying} OR lease_owner IS NOT @owner)", owner,
            async (transaction, ct) =>
            {
                await using var update = Command(transaction.Connection!, transaction, $"""
                    UPDATE {_table} SET state = {InboxRowState.Processed}, attempts = attempts + 1, processed_at = @now, next_attempt_at = NULL, lease_owner = NULL, payload = NULL
                    WHERE message_id = @id AND consumer = @consumer AND state = {InboxRowState.Retrying} AND lease_owner = @owner
                    """, ("id", Id(messageId)), ("consumer", consumer), ("owner", owner), ("now", now.UtcTicks));
                if (await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false) != 1)
                {
                    throw new InvalidOperationException($"The retry of message {messageId} for {consumer} is no longer held by {owner}.");
                }
            }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task<bool> RecordFailureAsync(InboxFailure failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var dead = failure.NextAttemptAt is null;
        var error = failure.Error.Length > MaxErrorLength ? failure.Error[..MaxErrorLength] : failure.Error;
        var at = failure.At.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        var sql = failure.Owner is null
            ? $"""
               INSERT INTO {_table} (message_id, consumer, state, topic, key, type, payload, headers, attempts, errors, received_at, next_attempt_at, dead_at)
               VALUES (@id, @consumer, @state, @topic, @key, @type, @payload, @headers, @attempt,
                       json_array(json_object('attempt', @attempt, 'at', @at, 'error', @error)), @now, @next, @dead)
               ON CONFLICT (message_id, consumer) DO NOTHING
               """
            : $"""
               UPDATE {_table} SET attempts = @attempt,
                   errors = json_insert(CASE WHEN json_array_length(errors) >= {MaxErrors} THEN json_remove(errors, '$[0]') ELSE errors END,
                                        '$[#]', json_object('attempt', @attempt, 'at', @at, 'error', @error)),
                   state = @state, next_attempt_at = @next, dead_at = @dead, lease_owner = NULL
               WHERE message_id = @id AND consumer = @consumer AND state = {InboxRowState.Retrying} AND lease_owner = @owner
               """;
        await using var command = Command(connection, null, sql,
            ("id", Id(failure.MessageId)), ("consumer", failure.Consumer), ("state", dead ? InboxRowState.Dead : InboxRowState.Retrying), ("topic", failure.Topic),
            ("key", failure.Key), ("type", failure.Type), ("payload", failure.Payload.ToArray()),
            ("headers", HeaderSerializer.Serialize(new Dictionary<string, string>(failure.Headers))), ("attempt", failure.Attempt), ("at", at), ("error", error),
            ("now", failure.At.UtcTicks), ("next", failure.NextAttemptAt?.UtcTicks), ("dead", dead ? failure.At.UtcTicks : null), ("owner", failure.Owner));
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

        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, $"""
            UPDATE {_table} SET lease_owner = @owner, next_attempt_at = @lease
            WHERE rowid IN (SELECT r.rowid FROM {_table} r
                            WHERE r.state = {InboxRowState.Retrying} AND r.next_attempt_at <= @now AND r.consumer IN (SELECT value FROM json_each(@consumers))
                              AND (r.key IS NULL OR r.consumer NOT IN (SELECT value FROM json_each(@ordered)) OR NOT EXISTS (
                                  SELECT 1 FROM {_table} e WHERE e.consumer = r.consumer AND e.key = r.key AND e.rowid < r.rowid
                                    AND (e.state = {InboxRowState.Retrying} OR (e.state = {InboxRowState.Dead} AND e.consumer IN (SELECT value FROM json_each(@deadBlocking))))))
                            ORDER BY r.next_attempt_at LIMIT @limit)
            RETURNING message_id, consumer, topic, key, type, payload, headers, attempts
            """, ("owner", request.Owner), ("lease", request.LeaseUntil.UtcTicks), ("now", request.Now.UtcTicks), ("limit", request.Limit),
            ("consumers", JsonSerializer.Serialize(request.Consumers)), ("ordered", JsonSerializer.Serialize(request.OrderedConsumers)),
            ("deadBlocking", JsonSerializer.Serialize(request.DeadBlockingConsumers)));
        var retries = new List<InboxRetry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            retries.Add(new InboxRetry(Guid.Parse(reader.GetString(0)), reader.GetString(1), reader.GetString(2), NullableString(reader, 3), NullableString(reader, 4),
                reader.IsDBNull(5) ? ReadOnlyMemory<byte>.Empty : (byte[])reader.GetValue(5),
                HeaderSerializer.Deserialize(NullableString(reader, 6)), reader.GetInt32(7)));
        }

        return retries;
    }

    /// <inheritdoc />
    public async Task ReleaseRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null,
            $"UPDATE {_table} SET lease_owner = NULL, next_attempt_at = @now WHERE message_id = @id AND consumer = @consumer AND state = {InboxRowState.Retrying} AND lease_owner = @owner",
            ("id", Id(messageId)), ("consumer", consumer), ("owner", owner), ("now", now.UtcTicks));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeProcessedAsync(DateTimeOffset processedBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, $"""
            DELETE FROM {_table} WHERE rowid IN (
                SELECT rowid FROM {_table} WHERE state = {InboxRowState.Processed} AND processed_at < @before ORDER BY processed_at LIMIT @limit)
            """, ("before", processedBefore.UtcTicks), ("limit", batchSize));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<InboxEntry?> GetAsync(string consumer, Guid messageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        var rows = await ReadEntriesAsync($"SELECT {Columns} FROM {_table} WHERE message_id = @id AND consumer = @consumer",
            [("id", Id(messageId)), ("consumer", consumer)], cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<InboxEntry>> ListDeadAsync(string? consumer, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        return ReadEntriesAsync(
            $"SELECT {Columns} FROM {_table} WHERE state = {InboxRowState.Dead} AND (@consumer IS NULL OR consumer = @consumer) ORDER BY dead_at DESC LIMIT @limit",
            [("consumer", consumer), ("limit", limit)], cancellationToken);
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

        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        // The ids travel as one JSON array: one statement whatever their number (SQLite caps bound parameters).
        await using var command = Command(connection, null, $"""
            UPDATE {_table} SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = @now, dead_at = NULL, lease_owner = NULL, replays = replays + 1
            WHERE message_id IN (SELECT value FROM json_each(@ids)) AND consumer = @consumer AND state = {InboxRowState.Dead}
            """, ("ids", System.Text.Json.JsonSerializer.Serialize(ids.Select(Id))), ("consumer", consumer),
            ("now", _timeProvider.GetUtcNow().UtcTicks));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<InboxEntry>> ReadEntriesAsync(string sql, (string, object?)[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, sql, parameters);
        var result = new List<InboxEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new InboxEntry(
                MessageId: Guid.Parse(reader.GetString(0)),
                Consumer: reader.GetString(1),
                Topic: reader.GetString(2),
                Type: NullableString(reader, 3),
                State: (InboxState)reader.GetInt32(4),
                Attempts: reader.GetInt32(5),
                Errors: InboxErrorSerializer.Parse(reader.GetString(6)),
                ReceivedAt: SqliteTime.FromTicks(reader.GetInt64(7)),
                ProcessedAt: NullableTime(reader, 8),
                NextAttemptAt: NullableTime(reader, 9),
                DeadAt: NullableTime(reader, 10),
                Replays: reader.GetInt32(11)));
        }

        return result;
    }

    private async Task<InboxTransaction?> BeginCoreAsync(Guid messageId, string consumer, string blockedSql, string? owner,
        Func<SqliteTransaction, CancellationToken, Task> record, CancellationToken cancellationToken)
    {
        var keyLock = await _locks.AcquireAsync((messageId, consumer), cancellationToken).ConfigureAwait(false);
        SqliteConnection? connection = null;
        try
        {
            connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
            // Checked outside the transaction: a deferred SQLite transaction that has read cannot later take the write
            // lock once another connection committed, so the transaction stays untouched until the handler writes.
            await using (var check = Command(connection, null, blockedSql, ("id", Id(messageId)), ("consumer", consumer), ("owner", owner)))
            {
                if (Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    keyLock.Dispose();
                    return null;
                }
            }

            var transaction = connection.BeginTransaction(deferred: true);
            return new SqliteInboxTransaction(connection, transaction, record, keyLock);
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            keyLock.Dispose();
            throw;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new SqliteCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue("@" + name, value ?? DBNull.Value);
        }

        return command;
    }

    private static string Id(Guid id) => id.ToString("D");

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? NullableTime(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : SqliteTime.FromTicks(reader.GetInt64(ordinal));
}
