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
/// follow it, in order, at most a batch.</item>
/// </list>
/// The union's first batch by sequence is leased, each row only if it is still claimable. A blocked key therefore
/// costs one probe, never a window of the batch, whatever its number of followers.
/// </remarks>
public sealed class MySqlOutboxStore : IOutboxStore
{
    private const string EnvelopeColumns = "id, seq, topic, `key`, type, payload, headers, created_at, attempts, max_attempts";
    private const string Claimable = "(state = 0 OR (state IN (3, 4) AND available_at <= @now))";

    private readonly MySqlDataSource _dataSource;
    private readonly MySqlTables _tables;
    private readonly string _candidates;
    private readonly Lock _cursorLock = new();
    private string _keyCursor = string.Empty;

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
    public async Task<IReadOnlyList<OutboxEnvelope>> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        string cursor;
        lock (_cursorLock)
        {
            cursor = _keyCursor;
        }

        var (claimed, next, _) = await ClaimAsync(request, cursor, cancellationToken).ConfigureAwait(false);
        lock (_cursorLock)
        {
            _keyCursor = next;
        }

        return claimed;
    }

    /// <summary>One claim from <paramref name="keyCursor"/>: the messages, the last key visited (the next claim's
    /// cursor) and whether more may be claimable at once (a batch of keys visited or a batch of messages taken).</summary>
    internal async Task<(IReadOnlyList<OutboxEnvelope> Claimed, string NextKeyCursor, bool MayHaveMore)> ClaimAsync(
        ClaimRequest request, string? keyCursor, CancellationToken cancellationToken)
    {
        var batch = request.BatchSize;
        var now = MySqlValues.ToDb(request.Now);
        var lease = MySqlValues.ToDb(request.LeaseUntil);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

        var candidates = new List<long>();
        var eligibleKeys = new List<string>();
        string? lastKey = null;
        var keysVisited = 0;
        await using (var command = new MySqlCommand(_candidates, connection, transaction))
        {
            command.Parameters.AddWithValue("@b", batch);
            command.Parameters.AddWithValue("@now", now);
            // Keys are never empty (MessageValidator), so '' sorts before every key: "start from the beginning".
            command.Parameters.AddWithValue("@cursor", keyCursor ?? string.Empty);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the lock row
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                candidates.Add(reader.GetInt64(0));
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // k, head seq, head state, head available_at, dead message before the head
                var key = reader.GetString(0);
                lastKey = key;
                keysVisited++;
                var ready = reader.GetInt32(2) == 0 || reader.GetDateTime(3) <= now;
                var blockedByDead = request.DeadMessagesBlockKey && reader.GetInt32(4) != 0;
                if (ready && !blockedByDead)
                {
                    eligibleKeys.Add(key);
                }
            }
        }

        if (eligibleKeys.Count > 0)
        {
            await AddKeyRunsAsync(connection, transaction, eligibleKeys, batch, now, candidates, cancellationToken).ConfigureAwait(false);
        }

        candidates.Sort();
        if (candidates.Count > batch)
        {
            candidates.RemoveRange(batch, candidates.Count - batch);
        }

        var claimed = new List<OutboxEnvelope>(candidates.Count);
        if (candidates.Count > 0)
        {
            var list = string.Join(',', candidates.Select(s => s.ToString(CultureInfo.InvariantCulture)));
            await using var command = new MySqlCommand($"""
                UPDATE {_tables.Outbox} SET state = 3, lease_owner = @owner, available_at = @lease, last_attempt_at = @now
                WHERE seq IN ({list}) AND {Claimable};
                SELECT {EnvelopeColumns} FROM {_tables.Outbox}
                WHERE seq IN ({list}) AND state = 3 AND lease_owner = @owner AND available_at = @lease ORDER BY seq;
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
        return (claimed, lastKey ?? string.Empty, keysVisited >= batch || candidates.Count >= batch);
    }

    /// <inheritdoc />
    public async Task<int> SettleAsync(SettleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Delivered.Count + request.Failed.Count + request.Released.Count == 0)
        {
            return 0;
        }

        // All outcomes in one round trip; each statement changes only rows this owner still holds. The statements run
        // in autocommit: each outcome stands on its own, and a lost one only means a republish or a retry.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand { Connection = connection };
        var sql = new StringBuilder();
        var p = command.Parameters;
        p.AddWithValue("@owner", request.Owner);
        p.AddWithValue("@now", MySqlValues.ToDb(request.Now));
        const string Owned = "state = 3 AND lease_owner = @owner";
        if (request.Delivered.Count > 0)
        {
            var ids = IdList(p, "d", request.Delivered);
            sql.Append(request.DeleteDelivered
                ? $"DELETE FROM {_tables.Outbox} WHERE id IN ({ids}) AND {Owned};"
                : $"UPDATE {_tables.Outbox} SET state = 1, delivered_at = @now, attempts = attempts + 1, lease_owner = NULL, last_error = NULL WHERE id IN ({ids}) AND {Owned};");
        }

        for (var i = 0; i < request.Failed.Count; i++)
        {
            var f = request.Failed[i];
            p.AddWithValue($"@f{i}", MySqlValues.ToDb(f.Id));
            p.AddWithValue($"@e{i}", f.Error.Length > 2000 ? f.Error[..2000] : f.Error);
            // A dead message keeps its available_at; a failed one is due again at its next attempt.
            sql.Append(f.Dead
                ? $"UPDATE {_tables.Outbox} SET state = 2, attempts = attempts + 1, last_error = @e{i}, lease_owner = NULL WHERE id = @f{i} AND {Owned};"
                : $"UPDATE {_tables.Outbox} SET state = 4, attempts = attempts + 1, last_error = @e{i}, available_at = @n{i}, lease_owner = NULL WHERE id = @f{i} AND {Owned};");
            if (!f.Dead)
            {
                p.AddWithValue($"@n{i}", MySqlValues.ToDb(f.NextAttemptAt));
            }
        }

        if (request.Released.Count > 0)
        {
            var ids = IdList(p, "r", request.Released);
            sql.Append($"UPDATE {_tables.Outbox} SET state = 0, lease_owner = NULL, available_at = @now WHERE id IN ({ids}) AND {Owned};");
        }

        command.CommandText = sql.ToString();
        // The sum of the rows matched by every statement (MySqlConnector reports found rows, not changed rows, by default).
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeDeliveredAsync(DateTimeOffset deliveredBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = MySqlValues.Command(connection, 
            $"DELETE FROM {_tables.Outbox} WHERE state = 1 AND delivered_at < @cutoff ORDER BY delivered_at LIMIT @batch");
        command.Parameters.AddWithValue("@cutoff", MySqlValues.ToDb(deliveredBefore));
        command.Parameters.AddWithValue("@batch", batchSize);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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

    // The claimable run of each eligible key: its first pending messages in order (one bounded index range per key),
    // kept while each is claimable. A run stops at the first message in flight or scheduled for later.
    private async Task AddKeyRunsAsync(MySqlConnection connection, MySqlTransaction transaction, List<string> keys, int batch, DateTime now,
        List<long> candidates, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand { Connection = connection, Transaction = transaction };
        var sql = new StringBuilder();
        for (var i = 0; i < keys.Count; i++)
        {
            sql.Append(i == 0 ? "" : " UNION ALL ").Append(CultureInfo.InvariantCulture,
                $"(SELECT {i} AS k, seq, {Claimable} AS ok FROM {_tables.Outbox} WHERE claim_class = 3 AND `key` = @k{i} ORDER BY seq LIMIT @b)");
            command.Parameters.AddWithValue($"@k{i}", keys[i]);
        }

        command.CommandText = sql.Append(" ORDER BY k, seq").ToString();
        command.Parameters.AddWithValue("@b", batch);
        command.Parameters.AddWithValue("@now", now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var current = -1;
        var stopped = false;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = reader.GetInt32(0);
            if (key != current)
            {
                (current, stopped) = (key, false);
            }

            if (!stopped && reader.GetInt32(2) != 0)
            {
                candidates.Add(reader.GetInt64(1));
            }
            else
            {
                stopped = true;
            }
        }
    }

    private static OutboxEnvelope ReadEnvelope(MySqlDataReader reader) => new(
        Id: MySqlValues.ReadGuid(reader, 0),
        Sequence: reader.GetInt64(1),
        Topic: reader.GetString(2),
        Key: MySqlValues.NullableString(reader, 3),
        Type: MySqlValues.NullableString(reader, 4),
        Payload: reader.GetFieldValue<byte[]>(5),
        Headers: HeaderSerializer.Deserialize(MySqlValues.NullableString(reader, 6)),
        CreatedAt: MySqlValues.FromDb(reader.GetDateTime(7)),
        Attempts: reader.GetInt32(8),
        MaxAttempts: reader.IsDBNull(9) ? null : reader.GetInt32(9));

    // Three result sets: the lock row; keyless candidates (seq); visited keys in visiting order with their head
    // (k, seq, state, available_at, dead_before). Parameters: @b batch, @now, @cursor (the previous claim's last key,
    // '' for none).
    //
    // The key visit is a loose index scan written as a recursive CTE over (claim_class, key, seq): each step is "the
    // first key after k", one probe. Row (k, n, w): k the key (NULL once past the last key: the next step wraps to the
    // first key and sets w), n the step number (bounds the visit to @b keys plus the wrap step). After the wrap, keys
    // beyond the cursor were visited already and end the scan. MySQL 8.0 caps recursion at cte_max_recursion_depth
    // (1000), hence the SET_VAR hint (a comment to MariaDB, whose max_recursive_iterations default is far higher).
    private static string Candidates(MySqlTables tables)
    {
        var t = tables.Outbox;
        return $"""
            SELECT id FROM {tables.ClaimLock} WHERE id = 1 FOR UPDATE;
            (SELECT seq FROM {t} WHERE claim_class = 1 ORDER BY seq LIMIT @b)
            UNION ALL
            (SELECT seq FROM {t} WHERE claim_class = 2 AND available_at <= @now ORDER BY available_at LIMIT @b);
            WITH RECURSIVE ks (k, n, w) AS (
                SELECT (SELECT o.`key` FROM {t} o WHERE o.claim_class = 3 AND o.`key` > @cursor ORDER BY o.`key` LIMIT 1), 1, 0
                UNION ALL
                SELECT IF(ks.k IS NULL,
                          (SELECT o.`key` FROM {t} o WHERE o.claim_class = 3 ORDER BY o.`key` LIMIT 1),
                          (SELECT o.`key` FROM {t} o WHERE o.claim_class = 3 AND o.`key` > ks.k ORDER BY o.`key` LIMIT 1)),
                       ks.n + 1, IF(ks.k IS NULL, 1, ks.w)
                FROM ks
                WHERE ks.n <= @b AND (ks.k IS NOT NULL OR ks.w = 0) AND NOT (ks.w = 1 AND ks.k > @cursor)
            ), heads AS (
                SELECT ks.k, ks.n, (SELECT o.seq FROM {t} o WHERE o.claim_class = 3 AND o.`key` = ks.k ORDER BY o.seq LIMIT 1) AS head
                FROM ks
                WHERE ks.k IS NOT NULL AND NOT (ks.w = 1 AND ks.k > @cursor)
                ORDER BY ks.n
                LIMIT @b
            )
            SELECT /*+ SET_VAR(cte_max_recursion_depth = 20000) */ heads.k, h.seq, h.state, h.available_at,
                   EXISTS (SELECT 1 FROM {t} d WHERE d.claim_class = 4 AND d.`key` = heads.k AND d.seq < h.seq) AS dead_before
            FROM heads JOIN {t} h ON h.seq = heads.head
            ORDER BY heads.n;
            """;
    }
}
