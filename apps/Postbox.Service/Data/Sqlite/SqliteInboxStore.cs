using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postbox.Consumers;

namespace Postbox.Service.Data.Sqlite;

/// <summary>
/// The consumers' inbox on SQLite, with the PostgreSQL inbox's semantics (see <c>docs/consumers.md</c>): one row per
/// (message, consumer) recording it processed in the handler's transaction, retrying with its payload and error history,
/// or dead. SQLite is single-node: concurrent duplicates in this process are serialized by a lock per key (the role
/// PostgreSQL's primary-key lock plays), and the row is inserted at commit (see <see cref="SqliteInboxTransaction"/>).
/// </summary>
internal sealed class SqliteInboxStore(SqliteAppDatabase database) : IInboxStore
{
    private const int MaxErrors = 50;
    private const int MaxErrorLength = 2000;
    private const string Table = "service_inbox";
    private readonly KeyedLock<(Guid, string)> _locks = new();

    public async Task<InboxTransaction?> BeginAsync(Guid messageId, string consumer, string topic, DateTimeOffset now, CancellationToken cancellationToken) =>
        await BeginCoreAsync(messageId, consumer, $"SELECT count(*) FROM {Table} WHERE message_id = @id AND consumer = @consumer", null,
            async (transaction, ct) =>
            {
                await using var insert = AppDatabase.Command(transaction.Connection!, transaction, $"""
                    INSERT INTO {Table} (message_id, consumer, state, topic, attempts, received_at, processed_at)
                    VALUES (@id, @consumer, 1, @topic, 1, @now, @now)
                    ON CONFLICT (message_id, consumer) DO NOTHING
                    """, ("id", Id(messageId)), ("consumer", consumer), ("topic", topic), ("now", now.UtcTicks));
                if (await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false) != 1)
                {
                    // Another process on the same file recorded it meanwhile: roll back this attempt's effects.
                    throw new InvalidOperationException($"Message {messageId} was recorded for {consumer} by another process.");
                }
            }, cancellationToken).ConfigureAwait(false);

    public async Task<InboxTransaction?> BeginRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken) =>
        await BeginCoreAsync(messageId, consumer,
            $"SELECT count(*) FROM {Table} WHERE message_id = @id AND consumer = @consumer AND (state <> 2 OR lease_owner IS NOT @owner)", owner,
            async (transaction, ct) =>
            {
                await using var update = AppDatabase.Command(transaction.Connection!, transaction, $"""
                    UPDATE {Table} SET state = 1, attempts = attempts + 1, processed_at = @now, next_attempt_at = NULL, lease_owner = NULL, payload = NULL
                    WHERE message_id = @id AND consumer = @consumer AND state = 2 AND lease_owner = @owner
                    """, ("id", Id(messageId)), ("consumer", consumer), ("owner", owner), ("now", now.UtcTicks));
                if (await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false) != 1)
                {
                    throw new InvalidOperationException($"The retry of message {messageId} for {consumer} is no longer held by {owner}.");
                }
            }, cancellationToken).ConfigureAwait(false);

    public async Task<bool> RecordFailureAsync(InboxFailure failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var dead = failure.NextAttemptAt is null;
        var error = failure.Error.Length > MaxErrorLength ? failure.Error[..MaxErrorLength] : failure.Error;
        var at = failure.At.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var sql = failure.Owner is null
            ? $"""
               INSERT INTO {Table} (message_id, consumer, state, topic, key, type, payload, headers, attempts, errors, received_at, next_attempt_at, dead_at)
               VALUES (@id, @consumer, @state, @topic, @key, @type, @payload, @headers, @attempt,
                       json_array(json_object('attempt', @attempt, 'at', @at, 'error', @error)), @now, @next, @dead)
               ON CONFLICT (message_id, consumer) DO NOTHING
               """
            : $"""
               UPDATE {Table} SET attempts = @attempt,
                   errors = json_insert(CASE WHEN json_array_length(errors) >= {MaxErrors} THEN json_remove(errors, '$[0]') ELSE errors END,
                                        '$[#]', json_object('attempt', @attempt, 'at', @at, 'error', @error)),
                   state = @state, next_attempt_at = @next, dead_at = @dead, lease_owner = NULL
               WHERE message_id = @id AND consumer = @consumer AND state = 2 AND lease_owner = @owner
               """;
        await using var command = AppDatabase.Command(connection, null, sql,
            ("id", Id(failure.MessageId)), ("consumer", failure.Consumer), ("state", dead ? 3 : 2), ("topic", failure.Topic),
            ("key", failure.Key), ("type", failure.Type), ("payload", failure.Payload.ToArray()),
            ("headers", JsonSerializer.Serialize(failure.Headers)), ("attempt", failure.Attempt), ("at", at), ("error", error),
            ("now", failure.At.UtcTicks), ("next", failure.NextAttemptAt?.UtcTicks), ("dead", dead ? failure.At.UtcTicks : null), ("owner", failure.Owner));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task<IReadOnlyList<InboxRetry>> ClaimRetriesAsync(RetryClaimRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Consumers.Count == 0)
        {
            return [];
        }

        var names = string.Join(", ", request.Consumers.Select((_, i) => $"@c{i}"));
        var parameters = new List<(string, object?)>
        {
            ("owner", request.Owner), ("lease", request.LeaseUntil.UtcTicks), ("now", request.Now.UtcTicks), ("limit", request.Limit),
        };
        parameters.AddRange(request.Consumers.Select((c, i) => ($"c{i}", (object?)c)));
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null, $"""
            UPDATE {Table} SET lease_owner = @owner, next_attempt_at = @lease
            WHERE rowid IN (SELECT rowid FROM {Table} WHERE state = 2 AND next_attempt_at <= @now AND consumer IN ({names})
                            ORDER BY next_attempt_at LIMIT @limit)
            RETURNING message_id, consumer, topic, key, type, payload, headers, attempts
            """, [.. parameters]);
        var retries = new List<InboxRetry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            retries.Add(new InboxRetry(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), NullableString(reader, 3), NullableString(reader, 4),
                reader.IsDBNull(5) ? ReadOnlyMemory<byte>.Empty : (byte[])reader.GetValue(5),
                reader.IsDBNull(6) ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(6)) ?? [],
                reader.GetInt32(7)));
        }

        return retries;
    }

    public async Task ReleaseRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null,
            $"UPDATE {Table} SET lease_owner = NULL, next_attempt_at = @now WHERE message_id = @id AND consumer = @consumer AND state = 2 AND lease_owner = @owner",
            ("id", Id(messageId)), ("consumer", consumer), ("owner", owner), ("now", now.UtcTicks));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> PurgeProcessedAsync(DateTimeOffset processedBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null, $"""
            DELETE FROM {Table} WHERE rowid IN (
                SELECT rowid FROM {Table} WHERE state = 1 AND processed_at < @before ORDER BY processed_at LIMIT @limit)
            """, ("before", processedBefore.UtcTicks), ("limit", batchSize));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<InboxTransaction?> BeginCoreAsync(Guid messageId, string consumer, string blockedSql, string? owner,
        Func<SqliteTransaction, CancellationToken, Task> record, CancellationToken cancellationToken)
    {
        var keyLock = await _locks.AcquireAsync((messageId, consumer), cancellationToken).ConfigureAwait(false);
        DbConnection? connection = null;
        try
        {
            connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            // Checked outside the transaction: a deferred SQLite transaction that has read cannot later take the write
            // lock once another connection committed, so the transaction stays untouched until the handler writes.
            await using (var check = AppDatabase.Command(connection, null, blockedSql, ("id", Id(messageId)), ("consumer", consumer), ("owner", owner)))
            {
                if (Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    keyLock.Dispose();
                    return null;
                }
            }

            var sqlite = (SqliteConnection)connection;
            var transaction = sqlite.BeginTransaction(deferred: true);
            return new SqliteInboxTransaction(sqlite, transaction, record, keyLock);
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

    private static string Id(Guid id) => id.ToString("D");

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
