using Postbox.Storage;

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
        RelayCommit = "SELECT set_config('synchronous_commit', 'off', true), set_config('jit', 'off', true)";
        ClaimSettings = "SELECT set_config('synchronous_commit', 'off', true), set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)";
        ClaimBlockingDead = Claim(t, schema.Pauses, deadBlocksKey: true);
        ClaimSkippingDead = Claim(t, schema.Pauses, deadBlocksKey: false);
        CompleteKeep = $"""
            UPDATE {t} SET state = {OutboxState.Delivered}, delivered_at = $3, attempts = attempts + 1, lease_owner = NULL, last_error = NULL
            WHERE id = ANY($1) AND state = {OutboxState.InFlight} AND lease_owner = $2
            """;
        CompleteDelete = $"DELETE FROM {t} WHERE id = ANY($1) AND state = {OutboxState.InFlight} AND lease_owner = $2";
        Fail = $"""
            UPDATE {t} o
            SET state = CASE WHEN f.dead THEN {OutboxState.Dead} ELSE {OutboxState.Scheduled} END, attempts = o.attempts + 1, last_error = left(f.error, 2000),
                available_at = CASE WHEN f.dead THEN o.available_at ELSE f.next END, lease_owner = NULL
            FROM unnest($1::uuid[], $3::text[], $4::timestamptz[], $5::boolean[]) AS f(id, error, next, dead)
            WHERE o.id = f.id AND o.state = {OutboxState.InFlight} AND o.lease_owner = $2
            """;
        Release = $"UPDATE {t} SET state = {OutboxState.Ready}, lease_owner = NULL, available_at = $3 WHERE id = ANY($1) AND state = {OutboxState.InFlight} AND lease_owner = $2";
        Purge = $"""
            DELETE FROM {t} WHERE id IN (
                SELECT id FROM {t} WHERE state = {OutboxState.Delivered} AND delivered_at < $1 ORDER BY delivered_at LIMIT $2)
            """;
        OldestPending = $"""
            SELECT LEAST(
                (SELECT created_at FROM {t} WHERE state = {OutboxState.Ready} AND key IS NULL ORDER BY seq LIMIT 1),
                (SELECT min(created_at) FROM {t} WHERE state IN ({OutboxState.InFlight}, {OutboxState.Scheduled}) AND key IS NULL),
                (SELECT min(created_at) FROM {t} WHERE state IN ({OutboxState.Ready}, {OutboxState.InFlight}, {OutboxState.Scheduled}) AND key IS NOT NULL))
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
    /// are unaffected. JIT is turned off too: the claim's estimated cost on a large backlog crosses jit_above_cost, and
    /// compiling it took 2 s per claim on a 1,000,000-message keyless backlog (24 ms without), for a statement that
    /// touches at most a batch of rows.
    /// </summary>
    public string RelayCommit { get; }

    /// <summary>
    /// <see cref="RelayCommit"/> plus a generic plan for the (prepared) claim. Planning the claim took 5–6 ms per call on
    /// this project's 2-core machine, against 0.4–0.5 ms to run it on an idle outbox, so at low load it was most of the
    /// commit → publish latency, and at 2,000 claims/s most of the relay's PostgreSQL CPU. The generic plan was measured
    /// as fast as the custom ones on a 1,000,000-message backlog, keyless and over 1,000 keys (bench/README.md, session 20);
    /// without this setting PostgreSQL would plan the first five calls per connection, and keep planning a keyless
    /// backlog's claims. Transaction-local, like the rest.
    /// </summary>
    public string ClaimSettings { get; }

    public string ClaimBlockingDead { get; }

    public string ClaimSkippingDead { get; }

    public string CompleteKeep { get; }

    public string CompleteDelete { get; }

    public string Fail { get; }

    public string Release { get; }

    public string Purge { get; }

    public string OldestPending { get; }

    // The claim (see docs/ordering.md). Parameters: $1 owner, $2 batch size B, $3 now, $4 lease expiry, $5 key cursor
    // ('' = from the first key). Claims are serialized by an advisory lock taken by the previous statement, so two relays
    // never judge a key from the same snapshot.
    //  keys:     a loose index scan over keys with pending (ready, in flight, scheduled) messages, round-robin from the
    //            cursor and wrapping once, at most B keys (plus one more, only to learn whether more keys are waiting). Each step is one probe of outbox_key_pending_idx ("first entry
    //            after key k"), which lands on the key's head: a key costs one probe however many followers it has.
    //  eligible: keys whose head is claimable (ready, or its lease/delay is over) and, under DeadKeyPolicy.Block, has no
    //            earlier dead message.
    //  keyed:    from each eligible key, its head and the claimable messages that directly follow it in sequence order
    //            (stopping at the first that is not), at most a fair share of B per key.
    //  keyless:  the oldest ready keyless messages and the due ones (expired leases, retries, delays), at most B each.
    //  chosen:   the oldest B of keyed and keyless together.
    //  progress: where the next claim resumes: after the last key whose collected messages were all chosen, so a key
    //            whose messages lost to older ones is looked at again next time.
    // The final SELECT always returns one row (the progress) joined to the claimed rows, so the cursor comes back even
    // when nothing was claimed.
    //  paused:   the names of the paused outbox topics, read once (an empty array when none: the hot path pays one probe
    //            of the tiny pauses table). A key whose head is of a paused topic is not eligible, and a key's run stops
    //            before a message of a paused topic (keyed messages are never parked: their followers would overtake them).
    //            A keyless message of a paused topic that was chosen is parked (scheduled, due at ParkedUntil) instead of
    //            leased, which takes it out of the keyless indexes' live range, so a paused backlog is walked once, not
    //            at every claim. Resume takes the same advisory lock, so it cannot land between this read and the commit.
    // The final SELECT always returns one row (the progress) joined to the claimed rows, so the cursor comes back even
    // when nothing was claimed; its last column is the number of rows parked.
    private static string Claim(string t, string pauses, bool deadBlocksKey)
    {
        var parkedUntil = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"'{OutboxState.ParkedUntil.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00'::timestamptz");
        const string Park = "(o.key IS NULL AND o.topic = ANY(pz.names))";
        var deadCheck = deadBlocksKey
            ? $" AND NOT EXISTS (SELECT 1 FROM {t} d WHERE d.key COLLATE \"C\" = k.key AND d.state = {OutboxState.Dead} AND d.key IS NOT NULL AND d.seq < k.seq)"
            : "";
        return $$"""
        WITH RECURSIVE paused AS MATERIALIZED (
            SELECT COALESCE(array_agg(p.name), '{}'::text[]) AS names FROM {{pauses}} p WHERE p.side = 'outbox'
        ),
        keys(key, seq, topic, ready, n, wrapped) AS (
            SELECT s.key, s.seq, s.topic, s.ready, 1, s.wrapped FROM (
                (SELECT o.key COLLATE "C" AS key, o.seq, o.topic, (o.state = {{OutboxState.Ready}} OR o.available_at <= $3) AS ready, false AS wrapped
                 FROM {{t}} o WHERE o.state IN ({{OutboxState.Ready}}, {{OutboxState.InFlight}}, {{OutboxState.Scheduled}}) AND o.key IS NOT NULL AND o.key COLLATE "C" > $5
                 ORDER BY o.key COLLATE "C", o.seq LIMIT 1)
                UNION ALL
                (SELECT o.key COLLATE "C", o.seq, o.topic, (o.state = {{OutboxState.Ready}} OR o.available_at <= $3), true
                 FROM {{t}} o WHERE o.state IN ({{OutboxState.Ready}}, {{OutboxState.InFlight}}, {{OutboxState.Scheduled}}) AND o.key IS NOT NULL
                 ORDER BY o.key COLLATE "C", o.seq LIMIT 1)
                LIMIT 1) s
            UNION ALL
            SELECT s.key, s.seq, s.topic, s.ready, k.n + 1, s.wrapped FROM keys k CROSS JOIN LATERAL (
                (SELECT o.key COLLATE "C" AS key, o.seq, o.topic, (o.state = {{OutboxState.Ready}} OR o.available_at <= $3) AS ready, k.wrapped AS wrapped
                 FROM {{t}} o WHERE o.state IN ({{OutboxState.Ready}}, {{OutboxState.InFlight}}, {{OutboxState.Scheduled}}) AND o.key IS NOT NULL AND o.key COLLATE "C" > k.key
                 ORDER BY o.key COLLATE "C", o.seq LIMIT 1)
                UNION ALL
                (SELECT o.key COLLATE "C", o.seq, o.topic, (o.state = {{OutboxState.Ready}} OR o.available_at <= $3), true
                 FROM {{t}} o WHERE NOT k.wrapped AND o.state IN ({{OutboxState.Ready}}, {{OutboxState.InFlight}}, {{OutboxState.Scheduled}}) AND o.key IS NOT NULL
                 ORDER BY o.key COLLATE "C", o.seq LIMIT 1)
                LIMIT 1) s
            WHERE k.n <= $2 AND NOT (s.wrapped AND s.key > $5)
        ),
        eligible AS (
            SELECT k.key FROM keys k CROSS JOIN paused pz WHERE k.n <= $2 AND k.ready AND NOT (k.topic = ANY(pz.names)){{deadCheck}}
        ),
        share AS (SELECT GREATEST(1, ($2 + count(*) - 1) / GREATEST(count(*), 1))::int AS per_key FROM eligible),
        keyed AS (
            SELECT r.id, r.seq, e.key FROM eligible e CROSS JOIN share CROSS JOIN paused pz CROSS JOIN LATERAL (
                SELECT y.id, y.seq FROM (
                    SELECT x.id, x.seq, bool_and(x.ok) OVER (ORDER BY x.seq) AS prefix FROM (
                        SELECT o.id, o.seq, ((o.state = {{OutboxState.Ready}} OR o.available_at <= $3) AND NOT (o.topic = ANY(pz.names))) AS ok FROM {{t}} o
                        WHERE o.key COLLATE "C" = e.key AND o.state IN ({{OutboxState.Ready}}, {{OutboxState.InFlight}}, {{OutboxState.Scheduled}}) AND o.key IS NOT NULL
                        ORDER BY o.key COLLATE "C", o.seq LIMIT share.per_key) x) y
                WHERE y.prefix) r
        ),
        keyless AS (
            (SELECT id, seq FROM {{t}} WHERE state = {{OutboxState.Ready}} AND key IS NULL ORDER BY seq LIMIT $2)
            UNION ALL
            (SELECT id, seq FROM {{t}} WHERE state IN ({{OutboxState.InFlight}}, {{OutboxState.Scheduled}}) AND key IS NULL AND available_at <= $3 ORDER BY available_at LIMIT $2)
        ),
        chosen AS MATERIALIZED (
            SELECT c.id, c.seq FROM (SELECT id, seq FROM keyed UNION ALL SELECT id, seq FROM keyless) c ORDER BY c.seq LIMIT $2
        ),
        progress AS (
            SELECT (SELECT k.key FROM keys k WHERE k.n <= $2 AND k.n < COALESCE(
                        (SELECT min(k2.n) FROM keys k2 JOIN keyed kd ON kd.key = k2.key
                         WHERE NOT EXISTS (SELECT 1 FROM chosen c WHERE c.id = kd.id)),
                        2147483647)
                    ORDER BY k.n DESC LIMIT 1) AS next_key,
                   (SELECT count(*) FROM keys)::int AS probes
        ),
        claimed AS (
            UPDATE {{t}} o
            SET state = CASE WHEN {{Park}} THEN {{OutboxState.Scheduled}} ELSE {{OutboxState.InFlight}} END,
                lease_owner = CASE WHEN {{Park}} THEN NULL ELSE $1 END,
                available_at = CASE WHEN {{Park}} THEN {{parkedUntil}} ELSE $4 END,
                last_attempt_at = CASE WHEN {{Park}} THEN o.last_attempt_at ELSE $3 END
            FROM chosen c CROSS JOIN paused pz
            WHERE o.id = c.id AND (o.state = {{OutboxState.Ready}} OR (o.state IN ({{OutboxState.InFlight}}, {{OutboxState.Scheduled}}) AND o.available_at <= $3))
            RETURNING o.state, o.id, o.seq, o.topic, o.key, o.type, o.payload, o.headers::text AS headers, o.created_at, o.attempts, o.max_attempts
        )
        SELECT p.next_key, p.probes, c.id, c.seq, c.topic, c.key, c.type, c.payload, c.headers, c.created_at, c.attempts, c.max_attempts,
               (SELECT count(*) FROM claimed x WHERE x.state = {{OutboxState.Scheduled}})::int AS parked
        FROM progress p LEFT JOIN (SELECT * FROM claimed WHERE state = {{OutboxState.InFlight}}) c ON true
        """;
    }
}
