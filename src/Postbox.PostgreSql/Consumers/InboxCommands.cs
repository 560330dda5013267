using Postbox.Consumers;

namespace Postbox.PostgreSql.Consumers;

/// <summary>The inbox's SQL for one schema. Every statement touches rows by primary key or through a partial index.</summary>
internal sealed class InboxCommands
{
    // Keep the last 50 errors: a message replayed many times must not grow its row without bound.
    private const string AppendError =
        "(CASE WHEN jsonb_array_length(errors) >= 50 THEN errors - 0 ELSE errors END) || jsonb_build_array(jsonb_build_object('attempt', $3, 'at', $4, 'error', left($5, 2000)))";

    private const string Columns = "message_id, consumer, topic, type, state, attempts, errors::text, received_at, processed_at, next_attempt_at, dead_at, replays";

    public InboxCommands(PostgreSqlSchema schema)
    {
        var t = $"{schema.Quoted}.inbox";
        // $1 id, $2 consumer, $3 topic, $4 now. Waits for a concurrent transaction holding the same key, then inserts
        // (it rolled back) or does nothing (it committed: a duplicate).
        Begin = $"""
            INSERT INTO {t} (message_id, consumer, state, topic, attempts, received_at, processed_at)
            VALUES ($1, $2, {InboxRowState.Processed}, $3, 1, $4, $4)
            ON CONFLICT (message_id, consumer) DO NOTHING
            """;
        // $1 id, $2 consumer, $3 topic, $4 now, $5 key, $6 dead letters block the key. Inserts only when the consumer has
        // no unfinished row of the key (inbox_key_idx); no row means a duplicate or a blocked key (told apart by Exists).
        BeginInKeyOrder = $"""
            INSERT INTO {t} (message_id, consumer, state, topic, attempts, received_at, processed_at)
            SELECT $1, $2, {InboxRowState.Processed}, $3, 1, $4, $4
            WHERE NOT EXISTS (SELECT 1 FROM {t} e WHERE e.consumer = $2 AND e.key = $5 AND (e.state = {InboxRowState.Retrying} OR (e.state = {InboxRowState.Dead} AND $6)))
            ON CONFLICT (message_id, consumer) DO NOTHING
            """;
        Exists = $"SELECT EXISTS (SELECT 1 FROM {t} WHERE message_id = $1 AND consumer = $2)";
        // $1 id, $2 consumer, $3 topic, $4 key, $5 type, $6 payload, $7 headers, $8 now. Due at once: the claim's key
        // check (below) holds it until everything before it is finished.
        Park = $"""
            INSERT INTO {t} (message_id, consumer, state, topic, key, type, payload, headers, attempts, received_at, next_attempt_at)
            VALUES ($1, $2, {InboxRowState.Retrying}, $3, $4, $5, $6, $7::jsonb, 0, $8, $8)
            ON CONFLICT (message_id, consumer) DO NOTHING
            """;
        // $1 id, $2 consumer, $3 owner, $4 now. The payload copy is no longer needed once handled.
        BeginRetry = $"""
            UPDATE {t} SET state = {InboxRowState.Processed}, attempts = attempts + 1, processed_at = $4, next_attempt_at = NULL, lease_owner = NULL, payload = NULL
            WHERE message_id = $1 AND consumer = $2 AND state = {InboxRowState.Retrying} AND lease_owner = $3
            """;
        // $1 id, $2 consumer, $3 attempt, $4 at, $5 error, $6 next (null: dead), $7 topic, $8 key, $9 type, $10 payload, $11 headers.
        FailFirst = $"""
            INSERT INTO {t} (message_id, consumer, state, topic, key, type, payload, headers, attempts, errors, received_at, next_attempt_at, dead_at)
            VALUES ($1, $2, CASE WHEN $6::timestamptz IS NULL THEN {InboxRowState.Dead} ELSE {InboxRowState.Retrying} END, $7, $8, $9, $10, $11::jsonb, $3,
                    jsonb_build_array(jsonb_build_object('attempt', $3, 'at', $4, 'error', left($5, 2000))), $4, $6,
                    CASE WHEN $6::timestamptz IS NULL THEN $4 END)
            ON CONFLICT (message_id, consumer) DO NOTHING
            """;
        // $1 id, $2 consumer, $3 attempt, $4 at, $5 error, $6 next (null: dead), $7 owner.
        FailRetry = $"""
            UPDATE {t} SET attempts = $3, errors = {AppendError},
                state = CASE WHEN $6::timestamptz IS NULL THEN {InboxRowState.Dead} ELSE {InboxRowState.Retrying} END, next_attempt_at = $6,
                dead_at = CASE WHEN $6::timestamptz IS NULL THEN $4 END, lease_owner = NULL
            WHERE message_id = $1 AND consumer = $2 AND state = {InboxRowState.Retrying} AND lease_owner = $7
            """;
        // $1 consumers, $2 owner, $3 limit, $4 now, $5 lease expiry, $6 consumers ordering by key, $7 those whose dead
        // letters block their key. SKIP LOCKED: a retry being handled holds its row lock. For an ordered consumer only a
        // key's head is claimable: a claimed (leased) head stays in state 2, so nothing after it is claimed meanwhile.
        Claim = $"""
            UPDATE {t} i SET lease_owner = $2, next_attempt_at = $5
            FROM (SELECT r.message_id, r.consumer FROM {t} r
                  WHERE r.state = {InboxRowState.Retrying} AND r.next_attempt_at <= $4 AND r.consumer = ANY($1)
                    AND (r.key IS NULL OR NOT (r.consumer = ANY($6)) OR NOT EXISTS (
                        SELECT 1 FROM {t} e WHERE e.consumer = r.consumer AND e.key = r.key AND e.seq < r.seq
                          AND (e.state = {InboxRowState.Retrying} OR (e.state = {InboxRowState.Dead} AND e.consumer = ANY($7)))))
                  ORDER BY r.next_attempt_at LIMIT $3 FOR UPDATE OF r SKIP LOCKED) c
            WHERE i.message_id = c.message_id AND i.consumer = c.consumer
            RETURNING i.message_id, i.consumer, i.topic, i.key, i.type, i.payload, i.headers::text, i.attempts
            """;
        Release = $"UPDATE {t} SET lease_owner = NULL, next_attempt_at = $4 WHERE message_id = $1 AND consumer = $2 AND state = {InboxRowState.Retrying} AND lease_owner = $3";
        Purge = $"""
            DELETE FROM {t} WHERE (message_id, consumer) IN (
                SELECT message_id, consumer FROM {t} WHERE state = {InboxRowState.Processed} AND processed_at < $1 ORDER BY processed_at LIMIT $2)
            """;
        Get = $"SELECT {Columns} FROM {t} WHERE message_id = $1 AND consumer = $2";
        DeadAll = $"SELECT {Columns} FROM {t} WHERE state = {InboxRowState.Dead} ORDER BY dead_at DESC LIMIT $1";
        DeadOfConsumer = $"SELECT {Columns} FROM {t} WHERE state = {InboxRowState.Dead} AND consumer = $2 ORDER BY dead_at DESC LIMIT $1";
        Replay = $"""
            UPDATE {t} SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = $3, dead_at = NULL, lease_owner = NULL, replays = replays + 1
            WHERE message_id = ANY($1) AND consumer = $2 AND state = {InboxRowState.Dead}
            """;
    }

    public string Begin { get; }

    public string BeginInKeyOrder { get; }

    public string Exists { get; }

    public string Park { get; }

    public string BeginRetry { get; }

    public string FailFirst { get; }

    public string FailRetry { get; }

    public string Claim { get; }

    public string Release { get; }

    public string Purge { get; }

    public string Get { get; }

    public string DeadAll { get; }

    public string DeadOfConsumer { get; }

    public string Replay { get; }
}
