using Microsoft.Data.Sqlite;
using Postbox.Storage;

namespace Postbox.Sqlite;

/// <summary>
/// Chooses what one claim takes, with the plan of the PostgreSQL claim (docs/ordering.md): keyless messages oldest first
/// through their own indexes; keyed messages one key at a time, round-robin from the cursor, looking only at each key's
/// head (one probe of the (key, seq) index per key, however many followers the key has), at most the batch size of keys.
/// </summary>
internal static class SqliteClaimPlanner
{
    /// <summary>What to take: <paramref name="Chosen"/> to lease, <paramref name="Parked"/> (keyless messages of paused topics) to park.</summary>
    public sealed record Plan(IReadOnlyList<long> Chosen, IReadOnlyList<long> Parked, string? LastDoneKey, int KeysVisited);

    // PastCursor: the key sorts after the cursor in SQLite's own (BINARY, UTF-8 byte) order.
    private sealed record Head(string Key, long Seq, string Topic, bool Ready, bool PastCursor);

    public static async Task<Plan> PlanAsync(SqliteConnection connection, SqliteTransaction transaction, SqliteTables tables, ClaimRequest request,
        CancellationToken cancellationToken)
    {
        var t = tables.Outbox;
        var batch = request.BatchSize;
        var now = SqliteTime.ToTicks(request.Now);
        var cursor = request.KeyCursor ?? "";

        // Paused topics (migration 006), read in the claim's transaction: a resume (a write) cannot commit between this
        // read and the claim's commit, since SQLite runs one write transaction at a time and the claim's is immediate.
        var paused = new HashSet<string>(StringComparer.Ordinal);
        await using (var pauses = new SqliteCommand($"SELECT name FROM {tables.Pauses} WHERE side = 'outbox'", connection, transaction))
        await using (var reader = await pauses.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                paused.Add(reader.GetString(0));
            }
        }

        // Keys: one more than the batch, only to learn whether more keys are waiting.
        var heads = new List<Head>();
        await using (var next = new SqliteCommand($"""
            SELECT key, seq, topic, (state = {OutboxState.Ready} OR available_at <= $now), key > $cursor FROM {t}
            WHERE state IN ({OutboxState.Ready}, {OutboxState.InFlight}, {OutboxState.Scheduled}) AND key IS NOT NULL AND key > $after ORDER BY key, seq LIMIT 1
            """, connection, transaction))
        {
            next.Parameters.AddWithValue("$now", now);
            next.Parameters.AddWithValue("$cursor", cursor);
            var after = next.Parameters.Add("$after", SqliteType.Text);
            var wrapped = false;
            var from = cursor;
            while (heads.Count <= batch)
            {
                after.Value = from;
                var head = await ReadHeadAsync(next, cancellationToken).ConfigureAwait(false);
                if (head is null && !wrapped && cursor.Length > 0)
                {
                    wrapped = true;
                    after.Value = "";
                    head = await ReadHeadAsync(next, cancellationToken).ConfigureAwait(false);
                }

                if (head is null || (wrapped && head.PastCursor))
                {
                    break;
                }

                heads.Add(head);
                from = head.Key;
            }
        }

        var visited = heads.Count;
        if (heads.Count > batch)
        {
            heads.RemoveAt(batch);
        }

        var eligible = new List<Head>();
        await using (var dead = new SqliteCommand(
            $"SELECT EXISTS (SELECT 1 FROM {t} WHERE key = $key AND state = {OutboxState.Dead} AND key IS NOT NULL AND seq < $seq)", connection, transaction))
        {
            var key = dead.Parameters.Add("$key", SqliteType.Text);
            var seq = dead.Parameters.Add("$seq", SqliteType.Integer);
            // A key whose head is of a paused topic waits, its followers behind it (keyed messages are never parked).
            foreach (var head in heads.Where(h => h.Ready && !paused.Contains(h.Topic)))
            {
                (key.Value, seq.Value) = (head.Key, head.Seq);
                if (!request.DeadMessagesBlockKey || Convert.ToInt64(await dead.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    eligible.Add(head);
                }
            }
        }

        // From each eligible key its head and the claimable messages right behind it, a fair share of the batch each.
        var keyed = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        var candidates = new List<long>();
        if (eligible.Count > 0)
        {
            var share = Math.Max(1, (batch + eligible.Count - 1) / eligible.Count);
            await using var follow = new SqliteCommand($"""
                SELECT seq, (state = {OutboxState.Ready} OR available_at <= $now), topic FROM {t}
                WHERE key = $key AND state IN ({OutboxState.Ready}, {OutboxState.InFlight}, {OutboxState.Scheduled}) AND key IS NOT NULL ORDER BY seq LIMIT $share
                """, connection, transaction);
            follow.Parameters.AddWithValue("$now", now);
            follow.Parameters.AddWithValue("$share", share);
            var key = follow.Parameters.Add("$key", SqliteType.Text);
            foreach (var head in eligible)
            {
                key.Value = head.Key;
                var seqs = new List<long>();
                await using (var reader = await follow.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && reader.GetBoolean(1) && !paused.Contains(reader.GetString(2)))
                    {
                        seqs.Add(reader.GetInt64(0));
                    }
                }

                keyed[head.Key] = seqs;
                candidates.AddRange(seqs);
            }
        }

        var toPark = new HashSet<long>();
        await using (var keyless = new SqliteCommand($"""
            SELECT seq, topic FROM (SELECT seq, topic FROM {t} WHERE state = {OutboxState.Ready} AND key IS NULL ORDER BY seq LIMIT $batch)
            UNION ALL
            SELECT seq, topic FROM (SELECT seq, topic FROM {t} WHERE state IN ({OutboxState.InFlight}, {OutboxState.Scheduled}) AND key IS NULL AND available_at <= $now ORDER BY available_at LIMIT $batch)
            """, connection, transaction))
        {
            keyless.Parameters.AddWithValue("$batch", batch);
            keyless.Parameters.AddWithValue("$now", now);
            await using var reader = await keyless.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                candidates.Add(reader.GetInt64(0));
                if (paused.Contains(reader.GetString(1)))
                {
                    toPark.Add(reader.GetInt64(0));
                }
            }
        }

        candidates.Sort();
        var taken = candidates.Take(batch).ToList();
        var chosenSet = taken.ToHashSet();
        var chosen = taken.Where(s => !toPark.Contains(s)).ToList();
        var parked = taken.Where(toPark.Contains).ToList();

        // Resume after the last key whose collected messages were all chosen.
        string? lastDone = null;
        foreach (var head in heads)
        {
            if (keyed.TryGetValue(head.Key, out var seqs) && !seqs.All(chosenSet.Contains))
            {
                break;
            }

            lastDone = head.Key;
        }

        return new Plan(chosen, parked, lastDone, visited);
    }

    private static async Task<Head?> ReadHeadAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new Head(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetBoolean(3), reader.GetBoolean(4))
            : null;
    }
}
