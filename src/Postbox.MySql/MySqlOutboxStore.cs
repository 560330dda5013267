using System.Data;
using System.Globalization;
using System.Text;
using MySqlConnector;
using Postbox.Storage;

namespace Postbox.MySql;

/// <summary>
/// The relay side of the MySQL/MariaDB store: claims by key head under a lease, one-round-trip settles, bounded
/// cleanup. See <c>docs/mysql.md</c> and <c>docs/ordering.md</c>.
/// </summary>
/// <remarks>
/// A claim runs in one READ COMMITTED transaction (no gap locks: producers keep inserting while a relay claims) that
/// first locks the one row of <c>{prefix}outbox_claim_lock</c>, so claims are serialized and no two relays judge a
/// key's head from the same data. It finds candidates in two places:
/// <list type="bullet">
/// <item>keyless messages through their own indexes: the oldest ready ones by sequence, and due leased or scheduled
/// ones by due time, each at most a batch;</item>
/// <item>keyed messages key by key: a loose index scan (a recursive CTE, one index probe per key however many
/// followers it has) visits at most a batch of keys with pending messages, starting after the previous claim's last
/// key and wrapping round, and looks at each key's head. A key whose head is claimable (ready, or due) and not behind
/// a dead message (under <see cref="Relay.DeadKeyPolicy.Block"/>) gives its head and the claimable messages that
/// directly follow it, in order, at most a fair share of the batch.</item>
/// </list>
/// The union's first batch by sequence is leased, each row only if it is still claimable. A blocked key therefore
/// costs one probe, never a window of the batch, whatever its number of followers.
/// </remarks>
internal sealed class MySqlOutboxStore : IOutboxStore
{
    private const string EnvelopeColumns = "id, seq, topic, `key`, type, payload, headers, created_at, attempts, max_attempts";
    private static readonly string Claimable = $"(state = {OutboxState.Ready} OR (state IN ({OutboxState.InFlight}, {OutboxState.Scheduled}) AND available_at <= @now))";

    private readonly MySqlDataSource _dataSource;
    private readonly MySqlTables _tables;
    private readonly string _candidates;

    /// <summary>Creates a store over <paramref name="dataSource"/> for the tables in <paramref name="options"/>.</summary>
    /// <param name="dataSource">Connection source (pooled).</param>
    /// <param name="options">Store options (the table prefix).</param>
    public MySqlOutboxStore(MySqlDataSource dataSource, MySqlOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _tables = new MySqlTables(options.TablePrefix);
        _candidates = Candidates(_tables);
    }

    /// <inheritdoc />
    public async Task<ClaimResult> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        var batch = request.BatchSize;
        var now = MySqlValues.ToDb(request.Now);
        var lease = MySqlValues.ToDb(request.LeaseUntil);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

        var candidates = new List<long>();
        var heads = new List<(string Key, bool Eligible)>();
        var paused = new HashSet<string>(StringComparer.Ordinal);
        var toPark = new HashSet<long>();
        await using (var command = new MySqlCommand(_candidates, connection, transaction))
        {
            command.Parameters.AddWithValue("@b", batch);
            // Keys: one more than the batch, only to learn whether more keys are waiting.
            command.Parameters.AddWithValue("@b1", batch + 1);
            command.Parameters.AddWithValue("@now", now);
            // Keys are never empty (MessageValidator), so '' sorts before every key: "from the first key".
            command.Parameters.AddWithValue("@cursor", request.KeyCursor ?? string.Empty);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the lock row
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                paused.Add(reader.GetString(0));
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                candidates.Add(reader.GetInt64(0));
                if (paused.Contains(reader.GetString(1)))
                {
                    toPark.Add(reader.GetInt64(0));
                }
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // key, head state, head available_at, a dead message before the head, head topic. A key whose head is of a
                // paused topic waits, its followers behind it (keyed messages are never parked).
                var ready = reader.GetInt32(1) == 0 || reader.GetDateTime(2) <= now;
                var blockedByDead = request.DeadMessagesBlockKey && reader.GetInt32(3) != 0;
                heads.Add((reader.GetString(0), ready && !blockedByDead && !paused.Contains(reader.GetString(4))));
            }
        }

        var keysVisited = heads.Count;
        if (heads.Count > batch)
        {
            heads.RemoveAt(batch);
        }

        var eligible = heads.Where(h => h.Eligible).Select(h => h.Key).ToList();
        var keyed = eligible.Count == 0
            ? []
            : await ReadKeyRunsAsync(connection, transaction, eligible, Math.Max(1, (batch + eligible.Count - 1) / eligible.Count), now, paused, cancellationToken)
                .ConfigureAwait(false);
        foreach (var run in keyed.Values)
        {
            candidates.AddRange(run);
        }

        candidates.Sort();
        if (candidates.Count > batch)
        {
            candidates.RemoveRange(batch, candidates.Count - batch);
        }

        var claimed = new List<OutboxEnvelope>(candidates.Count);
        var parked = candidates.Where(toPark.Contains).ToList();
        if (parked.Count > 0)
        {
            // Keyless messages of paused topics: left scheduled, due at ParkedUntil (the far end of outbox_class_due_idx,
            // out of the claim's way) until resume, which takes the claim lock held here.
            var list = string.Join(',', parked.Select(s => s.ToString(CultureInfo.InvariantCulture)));
            await using var park = new MySqlCommand($"""
                UPDATE {_tables.Outbox} SET state = {OutboxState.Scheduled}, lease_owner = NULL, available_at = @parked
                WHERE seq IN ({list}) AND `key` IS NULL AND {Claimable}
                """, connection, transaction);
            park.Parameters.AddWithValue("@parked", MySqlValues.ToDb(OutboxState.ParkedUntil));
            park.Parameters.AddWithValue("@now", now);
            await park.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var leased = candidates.Where(s => !toPark.Contains(s)).ToList();
        if (leased.Count > 0)
        {
            var list = string.Join(',', leased.Select(s => s.ToString(CultureInfo.InvariantCulture)));
            // MySQL has no UPDATE ... RETURNING (MariaDB only from 11.x): the update and the read of what it leased share
            // one round trip, and the read sees exactly the rows this transaction leased (owner and lease expiry match).
            await using var command = new MySqlCommand($"""
                UPDATE {_tables.Outbox} SET state = {OutboxState.InFlight}, lease_owner = @owner, available_at = @lease, last_attempt_at = @now
                WHERE seq IN ({list}) AND {Claimable};
                SELECT {EnvelopeColumns} FROM {_tables.Outbox}
                WHERE seq IN ({list}) AND state = {OutboxState.InFlight} AND lease_owner = @owner AND available_at = @lease ORDER BY seq;
                """, connection, transaction);
            command.Parameters.AddWithValue("@owner", request.Owner);
            command.Parameters.AddWithValue("@now", now);
            command.Parameters.AddWithValue("@lease", lease);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                claimed.Add(ReadEnvelope(reader));
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);

        // Resume after the last key whose collected messages were all chosen (a key whose messages lost to older ones is
        // looked at first next time).
        var chosen = candidates.ToHashSet();
        string? lastDone = null;
        foreach (var (key, _) in heads)
        {
            if (keyed.TryGetValue(key, out var run) && !run.All(chosen.Contains))
            {
                break;
            }

            lastDone = key;
        }

        return ClaimProgress.Result(claimed, request, lastDone, keysVisited, parked.Count);
    }

    /// <inheritdoc />
    public async Task<int> SettleAsync(SettleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Delivered.Count + request.Failed.Count + request.Released.Count == 0)
        {
            return 0;
        }

        // All outcomes in one round trip (plus begin and commit); each statement changes only rows this owner still holds.
        // READ COMMITTED: see MySqlValues.ExecuteReadCommittedAsync.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand { Connection = connection };
        var sql = new StringBuilder();
        var p = command.Parameters;
        // By the id index, always: on a small table the optimizer may scan the primary key instead, and a DELETE (READ
        // COMMITTED's semi-consistent read covers only UPDATE) then waits for every row an open enqueue transaction
        // inserted. Found by the model-based test, whose schedules leave enqueue transactions open.
        var byId = $"FORCE INDEX ({_tables.Outbox}_id_key)";
        p.AddWithValue("@owner", request.Owner);
        p.AddWithValue("@now", MySqlValues.ToDb(request.Now));
        var owned = $"state = {OutboxState.InFlight} AND lease_owner = @owner";
        if (request.Delivered.Count > 0)
        {
            var ids = IdList(p, "d", request.Delivered);
            sql.Append(request.DeleteDelivered
                ? $"DELETE o FROM {_tables.Outbox} AS o {byId} WHERE o.id IN ({ids}) AND o.{owned};"
                : $"UPDATE {_tables.Outbox} {byId} SET state = {OutboxState.Delivered}, delivered_at = @now, attempts = attempts + 1, lease_owner = NULL, last_error = NULL WHERE id IN ({ids}) AND {owned};");
        }

        // A failure (retry wait, or dead) makes its message block its key again. A claim judges keys on one snapshot and
        // rechecks only each claimed row, not its key's head: if such a settle (of a relay whose lease expired) landed
        // between the two, the claim could take a key's later messages while the earlier one waits for its retry. So a
        // settle with failures takes the claim lock first (released at commit) and cannot interleave with a claim.
        // Deliveries and releases need not: they leave nothing behind that blocks the key. The lock's SELECT returns a
        // row but changes none, so it adds nothing to the count below.
        if (request.Failed.Count > 0)
        {
            sql.Append($"SELECT id FROM {_tables.ClaimLock} WHERE id = 1 FOR UPDATE;");
        }

        for (var i = 0; i < request.Failed.Count; i++)
        {
            var f = request.Failed[i];
            p.AddWithValue($"@f{i}", MySqlValues.ToDb(f.Id));
            p.AddWithValue($"@e{i}", f.Error.Length > 2000 ? f.Error[..2000] : f.Error);
            // A dead message keeps its available_at; a failed one is due again at its next attempt.
            sql.Append(f.Dead
                ? $"UPDATE {_tables.Outbox} {byId} SET state = {OutboxState.Dead}, attempts = attempts + 1, last_error = @e{i}, lease_owner = NULL WHERE id = @f{i} AND {owned};"
                : $"UPDATE {_tables.Outbox} {byId} SET state = {OutboxState.Scheduled}, attempts = attempts + 1, last_error = @e{i}, available_at = @n{i}, lease_owner = NULL WHERE id = @f{i} AND {owned};");
            if (!f.Dead)
            {
                p.AddWithValue($"@n{i}", MySqlValues.ToDb(f.NextAttemptAt));
            }
        }

        if (request.Released.Count > 0)
        {
            var ids = IdList(p, "r", request.Released);
            sql.Append($"UPDATE {_tables.Outbox} {byId} SET state = {OutboxState.Ready}, lease_owner = NULL, available_at = @now WHERE id IN ({ids}) AND {owned};");
        }

        command.CommandText = sql.ToString();
        // The sum of the rows matched by every statement (MySqlConnector reports found rows, not changed rows, by default).
        return await MySqlValues.ExecuteReadCommittedAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeDeliveredAsync(DateTimeOffset deliveredBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, 
            $"DELETE FROM {_tables.Outbox} WHERE state = {OutboxState.Delivered} AND delivered_at < @cutoff ORDER BY delivered_at LIMIT @batch");
        command.Parameters.AddWithValue("@cutoff", MySqlValues.ToDb(deliveredBefore));
        command.Parameters.AddWithValue("@batch", batchSize);
        return await MySqlValues.ExecuteReadCommittedAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<DateTimeOffset?> GetOldestPendingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, OldestPending(_tables));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadOldestPendingAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The creation time of the first row by sequence of each pending claim class (keyless ready, keyless leased or
    /// scheduled, keyed): one index probe each. Sequence order and creation order agree up to the skew between
    /// concurrent enqueues. Read with <see cref="ReadOldestPendingAsync"/>.
    /// </summary>
    internal static string OldestPending(MySqlTables tables) => $"""
        SELECT (SELECT created_at FROM {tables.Outbox} WHERE claim_class = 1 ORDER BY seq LIMIT 1),
               (SELECT created_at FROM {tables.Outbox} WHERE claim_class = 2 ORDER BY seq LIMIT 1),
               (SELECT created_at FROM {tables.Outbox} WHERE claim_class = 3 ORDER BY seq LIMIT 1)
        """;

    internal static async Task<DateTimeOffset?> ReadOldestPendingAsync(MySqlDataReader reader, CancellationToken cancellationToken)
    {
        DateTimeOffset? oldest = null;
        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < 3; i++)
            {
                if (MySqlValues.NullableTime(reader, i) is { } at && (oldest is null || at < oldest))
                {
                    oldest = at;
                }
            }
        }

        return oldest;
    }

    private static string IdList(MySqlParameterCollection parameters, string prefix, IReadOnlyList<Guid> ids)
    {
        var names = new StringBuilder();
        for (var i = 0; i < ids.Count; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"@{prefix}{i}");
            parameters.AddWithValue(name, MySqlValues.ToDb(ids[i]));
            names.Append(i == 0 ? "" : ",").Append(name);
        }

        return names.ToString();
    }

    // The claimable run of each eligible key: its head and the claimable messages right behind it in sequence order (one
    // bounded index range per key, at most a fair share of the batch), stopping at the first that is not claimable.
    private async Task<Dictionary<string, List<long>>> ReadKeyRunsAsync(MySqlConnection connection, MySqlTransaction transaction, List<string> keys,
        int share, DateTime now, HashSet<string> paused, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand { Connection = connection, Transaction = transaction };
        var sql = new StringBuilder();
        for (var i = 0; i < keys.Count; i++)
        {
            sql.Append(i == 0 ? "" : " UNION ALL ").Append(CultureInfo.InvariantCulture,
                $"(SELECT {i} AS k, seq, {Claimable} AS ok, topic FROM {_tables.Outbox} WHERE claim_class = 3 AND `key` = @k{i} ORDER BY seq LIMIT @share)");
            command.Parameters.AddWithValue(string.Create(CultureInfo.InvariantCulture, $"@k{i}"), keys[i]);
        }

        command.CommandText = sql.Append(" ORDER BY k, seq").ToString();
        command.Parameters.AddWithValue("@share", share);
        command.Parameters.AddWithValue("@now", now);
        var runs = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        List<long>? run = null;
        var current = -1;
        var stopped = false;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var k = reader.GetInt32(0);
            if (k != current)
            {
                (current, stopped) = (k, false);
                run = [];
                runs[keys[k]] = run;
            }

            stopped |= reader.GetInt32(2) == 0 || paused.Contains(reader.GetString(3));
            if (!stopped)
            {
                run!.Add(reader.GetInt64(1));
            }
        }

        return runs;
    }

    private static OutboxEnvelope ReadEnvelope(MySqlDataReader reader) =>
        OutboxRows.Envelope(reader, 0, MySqlValues.ReadGuid(reader, 0), MySqlValues.FromDb(reader.GetDateTime(7)));

    // Four result sets: the lock row; the paused outbox topics (read under the lock, which resume takes too); keyless
    // candidates (seq, topic); visited keys in visiting order with their head (key, state, available_at, dead_before, topic). Parameters: @b batch, @b1 batch + 1 (keys to visit: one more than the
    // batch, only to learn whether more are waiting), @now, @cursor (where the previous claim stopped, '' for none).
    //
    // The key visit is a loose index scan written as a recursive CTE over (claim_class, key, seq): each step is "the
    // first key after k", one probe. Row (k, n, w): k the key (NULL once past the last key: the next step wraps to the
    // first key and sets w), n the step number (bounds the visit to @b1 keys plus the wrap step). After the wrap, keys
    // beyond the cursor were visited already and end the scan. MySQL 8.0 caps recursion at cte_max_recursion_depth
    // (1000), hence the SET_VAR hint (a comment to MariaDB, whose max_recursive_iterations default is far higher).
    private static string Candidates(MySqlTables tables)
    {
        var t = tables.Outbox;
        return $"""
            SELECT id FROM {tables.ClaimLock} WHERE id = 1 FOR UPDATE;
            SELECT name FROM {tables.Pauses} WHERE side = 'outbox';
            (SELECT seq, topic FROM {t} WHERE claim_class = 1 ORDER BY seq LIMIT @b)
            UNION ALL
            (SELECT seq, topic FROM {t} WHERE claim_class = 2 AND available_at <= @now ORDER BY available_at LIMIT @b);
            WITH RECURSIVE ks (k, n, w) AS (
                SELECT (SELECT o.`key` FROM {t} o WHERE o.claim_class = 3 AND o.`key` > @cursor ORDER BY o.`key` LIMIT 1), 1, 0
                UNION ALL
                SELECT IF(ks.k IS NULL,
                          (SELECT o.`key` FROM {t} o WHERE o.claim_class = 3 ORDER BY o.`key` LIMIT 1),
                          (SELECT o.`key` FROM {t} o WHERE o.claim_class = 3 AND o.`key` > ks.k ORDER BY o.`key` LIMIT 1)),
                       ks.n + 1, IF(ks.k IS NULL, 1, ks.w)
                FROM ks
                WHERE ks.n <= @b1 AND (ks.k IS NOT NULL OR ks.w = 0) AND NOT (ks.w = 1 AND ks.k > @cursor)
            ), heads AS (
                SELECT ks.k, ks.n, (SELECT o.seq FROM {t} o WHERE o.claim_class = 3 AND o.`key` = ks.k ORDER BY o.seq LIMIT 1) AS head
                FROM ks
                WHERE ks.k IS NOT NULL AND NOT (ks.w = 1 AND ks.k > @cursor)
                ORDER BY ks.n
                LIMIT @b1
            )
            SELECT /*+ SET_VAR(cte_max_recursion_depth = 20000) */ heads.k, h.state, h.available_at,
                   EXISTS (SELECT 1 FROM {t} d WHERE d.claim_class = 4 AND d.`key` = heads.k AND d.seq < h.seq) AS dead_before, h.topic
            FROM heads JOIN {t} h ON h.seq = heads.head
            ORDER BY heads.n;
            """;
    }
}
