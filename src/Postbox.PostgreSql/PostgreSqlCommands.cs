namespace Postbox.PostgreSql;

/// <summary>The store's SQL, built once per schema. Hot-path statements are set-based: one statement per batch.</summary>
internal sealed class PostgreSqlCommands
{
    public PostgreSqlCommands(PostgreSqlSchema schema)
    {
        var t = schema.Outbox;
        Insert = $"""
            INSERT INTO {t} (id, state, topic, key, type, payload, headers, created_at, available_at, max_attempts)
            SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::int[])
            """;
        InsertOne = $"""
            INSERT INTO {t} (id, state, topic, key, type, payload, headers, created_at, available_at, max_attempts)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """;
        Notify = $"SELECT pg_notify('{schema.Channel}', '')";
        ClaimLock = $"SELECT pg_advisory_xact_lock({schema.ClaimLockKey})";
        RelayCommit = "SELECT set_config('synchronous_commit', 'off', true)";
        ClaimBlockingDead = Claim(t, "2, 3, 4");
        ClaimSkippingDead = Claim(t, "3, 4");
        CompleteKeep = $"""
            UPDATE {t} SET state = 1, delivered_at = $3, attempts = attempts + 1, lease_owner = NULL, last_error = NULL
            WHERE id = ANY($1) AND state = 3 AND lease_owner = $2
            """;
        CompleteDelete = $"DELETE FROM {t} WHERE id = ANY($1) AND state = 3 AND lease_owner = $2";
        Fail = $"""
            UPDATE {t} o
            SET state = CASE WHEN f.dead THEN 2 ELSE 4 END, attempts = o.attempts + 1, last_error = left(f.error, 2000),
                available_at = CASE WHEN f.dead THEN o.available_at ELSE f.next END, lease_owner = NULL
            FROM unnest($1::uuid[], $3::text[], $4::timestamptz[], $5::boolean[]) AS f(id, error, next, dead)
            WHERE o.id = f.id AND o.state = 3 AND o.lease_owner = $2
            """;
        Release = $"UPDATE {t} SET state = 0, lease_owner = NULL, available_at = $3 WHERE id = ANY($1) AND state = 3 AND lease_owner = $2";
        Purge = $"""
            DELETE FROM {t} WHERE id IN (
                SELECT id FROM {t} WHERE state = 1 AND delivered_at < $1 ORDER BY delivered_at LIMIT $2)
            """;
        OldestPending = $"""
            SELECT LEAST(
                (SELECT created_at FROM {t} WHERE state = 0 ORDER BY seq LIMIT 1),
                (SELECT min(created_at) FROM {t} WHERE state IN (3, 4)))
            """;
    }

    public string Insert { get; }

    public string InsertOne { get; }

    public string Notify { get; }

    public string ClaimLock { get; }

    /// <summary>
    /// Makes the relay's own transaction (claim, settle) commit without waiting for its WAL flush. Losing such a
    /// commit in a server crash only means the message is published again (consumers deduplicate by id), and the WAL
    /// is replayed in order, so a later claim is never kept while an earlier settle is lost. The business
    /// transactions (enqueue, inbox) keep the server's synchronous commit. Transaction-local, so pooled connections
    /// are unaffected.
    /// </summary>
    public string RelayCommit { get; }

    public string ClaimBlockingDead { get; }

    public string ClaimSkippingDead { get; }

    public string CompleteKeep { get; }

    public string CompleteDelete { get; }

    public string Fail { get; }

    public string Release { get; }

    public string Purge { get; }

    public string OldestPending { get; }

    // Candidates: the oldest ready messages by sequence, plus due scheduled messages and expired leases.
    // A keyed candidate is eligible only when no earlier message of its key is blocking (in flight, waiting
    // for a retry, or dead under DeadKeyPolicy.Block) outside this very claim. Claims are serialized by
    // an advisory lock taken by the previous statement, so two relays never judge eligibility from the same
    // snapshot. Parameters: $1 owner, $2 batch size, $3 now, $4 lease expiry.
    private static string Claim(string t, string blockingStates) => $"""
        WITH candidates AS MATERIALIZED (
            (SELECT id, seq, key FROM {t} WHERE state = 0 ORDER BY seq LIMIT $2)
            UNION ALL
            (SELECT id, seq, key FROM {t} WHERE state IN (3, 4) AND available_at <= $3 ORDER BY available_at LIMIT $2)
        ),
        eligible AS (
            SELECT c.id FROM candidates c
            WHERE c.key IS NULL OR NOT EXISTS (
                SELECT 1 FROM {t} b
                WHERE b.key = c.key AND b.seq < c.seq AND b.state IN ({blockingStates})
                  AND NOT EXISTS (SELECT 1 FROM candidates x WHERE x.id = b.id))
            ORDER BY c.seq
            LIMIT $2
        )
        UPDATE {t} o
        SET state = 3, lease_owner = $1, available_at = $4, last_attempt_at = $3
        FROM eligible e
        WHERE o.id = e.id AND (o.state = 0 OR (o.state IN (3, 4) AND o.available_at <= $3))
        RETURNING o.id, o.seq, o.topic, o.key, o.type, o.payload, o.headers::text, o.created_at, o.attempts, o.max_attempts
        """;
}
