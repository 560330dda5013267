using Npgsql;
using NpgsqlTypes;
using Postbox.Storage;

namespace Postbox.PostgreSql;

/// <summary>
/// The relay side of the PostgreSQL store: lease-based batch claims, one-round-trip settles, bounded
/// cleanup. Every statement is set-based: the cost per batch is a constant number of round trips.
/// </summary>
internal sealed class PostgreSqlOutboxStore : IOutboxStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlCommands _commands;
    private readonly bool _prepare;

    /// <summary>Creates a store over <paramref name="dataSource"/> for the schema in <paramref name="options"/>.</summary>
    /// <param name="dataSource">Connection source (pooled).</param>
    /// <param name="options">Store options.</param>
    public PostgreSqlOutboxStore(NpgsqlDataSource dataSource, PostgreSqlOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _commands = new PostgreSqlCommands(new PostgreSqlSchema(options.Schema));
        _prepare = ExplicitPreparation.Supported(dataSource.ConnectionString);
    }

    /// <inheritdoc />
    public async Task<ClaimResult> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // All statements run in one implicit transaction (one Sync), so the advisory lock is held until the claim
        // commits; the claim statement takes its snapshot after the lock is granted.
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_commands.ClaimSettings));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_commands.ClaimLock));
        var claim = new NpgsqlBatchCommand(request.DeadMessagesBlockKey ? _commands.ClaimBlockingDead : _commands.ClaimSkippingDead);
        claim.Parameters.Add(new NpgsqlParameter<string> { TypedValue = request.Owner });
        claim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = request.BatchSize });
        claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = request.Now });
        claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = request.LeaseUntil });
        claim.Parameters.Add(new NpgsqlParameter<string> { TypedValue = request.KeyCursor ?? "" });
        batch.BatchCommands.Add(claim);
        // Prepared once per physical connection (a no-op afterwards): the claim is parsed and planned once, not per call.
        // Not with multiplexing, which Npgsql refuses to prepare for (see ExplicitPreparation).
        if (_prepare)
        {
            await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
        }

        var result = new List<OutboxEnvelope>(Math.Min(request.BatchSize, 1024));
        string? nextKey = null;
        var probes = 0;
        var parked = 0;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            // Past the results of set_config and of the lock.
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Every row carries the progress; a row without a message means nothing was claimed.
                nextKey = reader.IsDBNull(0) ? null : reader.GetString(0);
                probes = reader.GetInt32(1);
                parked = reader.GetInt32(12);
                if (reader.IsDBNull(2))
                {
                    continue;
                }

                result.Add(OutboxRows.Envelope(reader, 2, reader.GetGuid(2), reader.GetFieldValue<DateTimeOffset>(9)));
            }
        }

        // RETURNING does not promise an order; the relay relies on sequence order within a key.
        result.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
        return ClaimProgress.Result(result, request, nextKey, probes, parked);
    }

    /// <inheritdoc />
    public async Task<int> SettleAsync(SettleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        if (request.Delivered.Count > 0)
        {
            var command = new NpgsqlBatchCommand(request.DeleteDelivered ? _commands.CompleteDelete : _commands.CompleteKeep);
            AddIdsAndOwner(command, request.Delivered, request.Owner);
            if (!request.DeleteDelivered)
            {
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = request.Now });
            }

            batch.BatchCommands.Add(command);
        }

        if (request.Failed.Count > 0)
        {
            var n = request.Failed.Count;
            var ids = new Guid[n];
            var errors = new string[n];
            var next = new DateTimeOffset[n];
            var dead = new bool[n];
            for (var i = 0; i < n; i++)
            {
                (ids[i], errors[i], next[i], dead[i]) = request.Failed[i];
            }

            var command = new NpgsqlBatchCommand(_commands.Fail);
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = request.Owner });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = errors });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = next });
            command.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = dead });
            batch.BatchCommands.Add(command);
        }

        if (request.Released.Count > 0)
        {
            var command = new NpgsqlBatchCommand(_commands.Release);
            AddIdsAndOwner(command, request.Released, request.Owner);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = request.Now });
            batch.BatchCommands.Add(command);
        }

        if (batch.BatchCommands.Count == 0)
        {
            return 0;
        }

        // A failure (retry wait, or dead) makes its message block its key again. A claim judges keys on one snapshot and
        // rechecks only each claimed row, not its key's head: if such a settle (of a relay whose lease expired) landed
        // between the two, the claim could take a key's later messages while the earlier one waits for its retry. So a
        // settle with failures takes the claim lock and cannot interleave with a claim. Deliveries and releases need
        // not: they leave nothing behind that blocks the key.
        var prefix = 1;
        if (request.Failed.Count > 0)
        {
            batch.BatchCommands.Insert(0, new NpgsqlBatchCommand(_commands.ClaimLock));
            prefix++;
        }

        batch.BatchCommands.Insert(0, new NpgsqlBatchCommand(_commands.RelayCommit));
        if (_prepare)
        {
            await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

        // Rows changed by the writes only (not the one row of set_config or of the lock): fewer than submitted means
        // lost leases.
        var changed = 0;
        for (var i = prefix; i < batch.BatchCommands.Count; i++)
        {
            changed += batch.BatchCommands[i].RecordsAffected;
        }

        return changed;
    }

    /// <inheritdoc />
    public async Task<int> PurgeDeliveredAsync(DateTimeOffset deliveredBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(_commands.Purge);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = deliveredBefore });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<DateTimeOffset?> GetOldestPendingAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(_commands.OldestPending);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is DateTime utc ? new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)) : null;
    }

    private static void AddIdsAndOwner(NpgsqlBatchCommand command, IReadOnlyList<Guid> ids, string owner)
    {
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
    }
}
