using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postbox.Storage;

namespace Postbox.Sqlite;

/// <summary>
/// The relay side of the SQLite store. Claims run in <c>BEGIN IMMEDIATE</c> transactions, which SQLite
/// serializes, so the per-key eligibility rule is judged by one claimer at a time as in PostgreSQL; the claim follows
/// the same plan as PostgreSQL's (see <see cref="SqliteClaimPlanner"/> and docs/ordering.md).
/// </summary>
internal sealed class SqliteOutboxStore : IOutboxStore
{
    private readonly string _connectionString;
    private readonly SqliteTables _tables;

    /// <summary>Creates the store.</summary>
    /// <param name="options">Store options.</param>
    public SqliteOutboxStore(SqliteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));
        _tables = new SqliteTables(options.TablePrefix);
    }

    /// <inheritdoc />
    public async Task<ClaimResult> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // SQLite runs in-process, so the claim is a few prepared statements in one transaction instead of one large one.
        var plan = await SqliteClaimPlanner.PlanAsync(connection, transaction, _tables, request, cancellationToken).ConfigureAwait(false);
        var result = new List<OutboxEnvelope>(plan.Chosen.Count);
        if (plan.Chosen.Count > 0)
        {
            await using var command = new SqliteCommand($"""
                UPDATE {_tables.Outbox}
                SET state = {OutboxState.InFlight}, lease_owner = $owner, available_at = $lease, last_attempt_at = $now
                WHERE seq IN (SELECT value FROM json_each($seqs)) AND (state = {OutboxState.Ready} OR (state IN ({OutboxState.InFlight}, {OutboxState.Scheduled}) AND available_at <= $now))
                RETURNING id, seq, topic, key, type, payload, headers, created_at, attempts, max_attempts
                """, connection, transaction);
            command.Parameters.AddWithValue("$owner", request.Owner);
            command.Parameters.AddWithValue("$now", SqliteTime.ToTicks(request.Now));
            command.Parameters.AddWithValue("$lease", SqliteTime.ToTicks(request.LeaseUntil));
            command.Parameters.AddWithValue("$seqs", JsonSerializer.Serialize(plan.Chosen));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(OutboxRows.Envelope(reader, 0, Guid.Parse(reader.GetString(0)), SqliteTime.FromTicks(reader.GetInt64(7))));
            }
        }

        if (plan.Parked.Count > 0)
        {
            // Keyless messages of paused topics: left scheduled, due at ParkedUntil (out of the claim's way) until resume.
            await using var park = new SqliteCommand($"""
                UPDATE {_tables.Outbox} SET state = {OutboxState.Scheduled}, lease_owner = NULL, available_at = $parked
                WHERE seq IN (SELECT value FROM json_each($seqs)) AND key IS NULL AND (state = {OutboxState.Ready} OR (state IN ({OutboxState.InFlight}, {OutboxState.Scheduled}) AND available_at <= $now))
                """, connection, transaction);
            park.Parameters.AddWithValue("$parked", SqliteTime.ToTicks(OutboxState.ParkedUntil));
            park.Parameters.AddWithValue("$now", SqliteTime.ToTicks(request.Now));
            park.Parameters.AddWithValue("$seqs", JsonSerializer.Serialize(plan.Parked));
            await park.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        result.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
        return ClaimProgress.Result(result, request, plan.LastDoneKey, plan.KeysVisited, plan.Parked.Count);
    }

    /// <inheritdoc />
    public async Task<int> SettleAsync(SettleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var changed = 0;
        var owned = $"state = {OutboxState.InFlight} AND lease_owner = $owner";
        if (request.Delivered.Count > 0)
        {
            var sql = request.DeleteDelivered
                ? $"DELETE FROM {_tables.Outbox} WHERE id IN (SELECT value FROM json_each($ids)) AND {owned}"
                : $"UPDATE {_tables.Outbox} SET state = {OutboxState.Delivered}, delivered_at = $now, attempts = attempts + 1, lease_owner = NULL, last_error = NULL WHERE id IN (SELECT value FROM json_each($ids)) AND {owned}";
            changed += await ExecuteAsync(connection, transaction, sql, request.Owner, request.Now, request.Delivered, cancellationToken).ConfigureAwait(false);
        }

        if (request.Released.Count > 0)
        {
            var sql = $"UPDATE {_tables.Outbox} SET state = {OutboxState.Ready}, lease_owner = NULL, available_at = $now WHERE id IN (SELECT value FROM json_each($ids)) AND {owned}";
            changed += await ExecuteAsync(connection, transaction, sql, request.Owner, request.Now, request.Released, cancellationToken).ConfigureAwait(false);
        }

        if (request.Failed.Count > 0)
        {
            await using var fail = new SqliteCommand($"""
                UPDATE {_tables.Outbox}
                SET state = CASE WHEN $dead THEN {OutboxState.Dead} ELSE {OutboxState.Scheduled} END, attempts = attempts + 1, last_error = substr($error, 1, 2000),
                    available_at = CASE WHEN $dead THEN available_at ELSE $next END, lease_owner = NULL
                WHERE id = $id AND {owned}
                """, connection, transaction);
            fail.Parameters.AddWithValue("$owner", request.Owner);
            var id = fail.Parameters.Add("$id", SqliteType.Text);
            var error = fail.Parameters.Add("$error", SqliteType.Text);
            var next = fail.Parameters.Add("$next", SqliteType.Integer);
            var dead = fail.Parameters.Add("$dead", SqliteType.Integer);
            foreach (var failure in request.Failed)
            {
                (id.Value, error.Value, next.Value, dead.Value) = (failure.Id.ToString("D"), failure.Error, SqliteTime.ToTicks(failure.NextAttemptAt), failure.Dead ? 1 : 0);
                changed += await fail.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    /// <inheritdoc />
    public async Task<int> PurgeDeliveredAsync(DateTimeOffset deliveredBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = new SqliteCommand($"""
            DELETE FROM {_tables.Outbox} WHERE seq IN (
                SELECT seq FROM {_tables.Outbox} WHERE state = {OutboxState.Delivered} AND delivered_at < $cutoff ORDER BY delivered_at LIMIT $batch)
            """, connection);
        command.Parameters.AddWithValue("$cutoff", SqliteTime.ToTicks(deliveredBefore));
        command.Parameters.AddWithValue("$batch", batchSize);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<DateTimeOffset?> GetOldestPendingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        return await SqliteOutboxMonitor.OldestPendingAsync(connection, _tables, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, string owner, DateTimeOffset now,
        IReadOnlyList<Guid> ids, CancellationToken cancellationToken)
    {
        await using var command = new SqliteCommand(sql, connection, transaction);
        command.Parameters.AddWithValue("$owner", owner);
        command.Parameters.AddWithValue("$now", SqliteTime.ToTicks(now));
        command.Parameters.AddWithValue("$ids", JsonSerializer.Serialize(ids.Select(i => i.ToString("D"))));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
