using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using Postbox.Storage;

namespace Postbox.PostgreSql;

/// <summary>Writes outbox messages through the caller's <see cref="NpgsqlTransaction"/>: one round trip per call, whatever the count.</summary>
/// <remarks>
/// NOTIFY is coalesced: at most one enqueuing transaction per <see cref="NotifyInterval"/> (per writer, i.e. per
/// process) carries a <c>pg_notify</c>. A notifying transaction takes PostgreSQL's global notify lock at commit and
/// holds it through its WAL flush, which serializes every notifying commit on the server and defeats group commit:
/// measured with 16 clients (bench/README.md) a NOTIFY in every transaction cost 60 % of the throughput. Relays
/// re-check for a short window after each wake-up, so a message whose transaction carried no NOTIFY of its own is
/// still picked up within milliseconds of its commit while traffic flows; the polling fallback bounds the rest.
/// </remarks>
internal sealed class PostgreSqlOutboxWriter : IOutboxWriter
{
    /// <summary>Shortest time between two notifying transactions of one writer.</summary>
    internal static readonly TimeSpan NotifyInterval = TimeSpan.FromMilliseconds(5);

    private const string OnConflictDoNothing = "\nON CONFLICT (id) DO NOTHING";

    private static readonly long NotifyIntervalTicks = (long)(NotifyInterval.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    private readonly PostgreSqlCommands _commands;
    private readonly string _insert;
    private readonly string _insertOne;
    private readonly bool _notify;
    private long _lastNotify = long.MinValue / 2;

    /// <summary>Creates a writer for the schema in <paramref name="options"/>.</summary>
    /// <param name="options">Store options.</param>
    public PostgreSqlOutboxWriter(PostgreSqlOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _commands = new PostgreSqlCommands(new PostgreSqlSchema(options.Schema));

        // An id already in the outbox (an earlier transaction enqueued the same message) is skipped, not an error: a
        // unique violation (23505) would abort the caller's whole transaction. The insert's RecordsAffected says how many
        // were new. The clause is appended here rather than written into PostgreSqlCommands so that this writer's rule
        // holds whatever shape the shared insert takes; both inserts are plain INSERT … VALUES / SELECT statements.
        _insert = _commands.Insert + OnConflictDoNothing;
        _insertOne = _commands.InsertOne + OnConflictDoNothing;
        _notify = options.NotifyOnEnqueue;
    }

    /// <inheritdoc />
    public async Task<int> WriteAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (transaction is not NpgsqlTransaction npgsqlTransaction)
        {
            throw new ArgumentException($"The PostgreSQL outbox needs an NpgsqlTransaction; got {transaction?.GetType().FullName ?? "null"}.", nameof(transaction));
        }

        var connection = npgsqlTransaction.Connection
            ?? throw new ArgumentException("The transaction is no longer usable (committed, rolled back or disposed).", nameof(transaction));

        await using var batch = new NpgsqlBatch(connection, npgsqlTransaction);
        foreach (var command in CreateCommands(messages, now))
        {
            batch.BatchCommands.Add(command);
        }

        // Prepared once per physical connection (Npgsql keeps explicitly prepared statements across pooled reuse, and
        // this is a no-op when already prepared): the insert then skips parsing and planning in the caller's transaction.
        // Not with multiplexing, which Npgsql refuses to prepare for (see ExplicitPreparation).
        if (ExplicitPreparation.Supported(connection.ConnectionString))
        {
            await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return batch.BatchCommands[0].RecordsAffected;
    }

    /// <summary>
    /// The insert (first; its <see cref="NpgsqlBatchCommand.RecordsAffected"/> counts the new messages) and, when due,
    /// the NOTIFY for <paramref name="messages"/>, to run in one batch.
    /// </summary>
    internal IReadOnlyList<NpgsqlBatchCommand> CreateCommands(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now)
    {
        // The stores hold UTC; Npgsql refuses a timestamptz with another offset.
        now = now.ToUniversalTime();
        var insert = messages.Count == 1 ? InsertOne(messages[0], now) : InsertMany(messages, now);
        return _notify && ShouldNotify() ? [insert, new NpgsqlBatchCommand(_commands.Notify)] : [insert];
    }

    // One caller per interval wins the compare-exchange; the others skip the NOTIFY.
    private bool ShouldNotify()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        var last = Volatile.Read(ref _lastNotify);
        return now - last >= NotifyIntervalTicks && Interlocked.CompareExchange(ref _lastNotify, now, last) == last;
    }

    private NpgsqlBatchCommand InsertOne(OutboxMessage m, DateTimeOffset now)
    {
        var (state, availableAt) = Schedule(m, now);
        var command = new NpgsqlBatchCommand(_insertOne);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<Guid> { TypedValue = m.Id });
        p.Add(new NpgsqlParameter<short> { TypedValue = state });
        p.Add(new NpgsqlParameter<string> { TypedValue = m.Topic });
        p.Add(new NpgsqlParameter { Value = (object?)m.Key ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)m.Type ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = m.Payload, NpgsqlDbType = NpgsqlDbType.Bytea });
        p.Add(new NpgsqlParameter { Value = (object?)HeaderSerializer.Serialize(m.Headers) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = availableAt });
        p.Add(new NpgsqlParameter { Value = (object?)m.MaxAttempts ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        return command;
    }

    private NpgsqlBatchCommand InsertMany(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now)
    {
        var n = messages.Count;
        var ids = new Guid[n];
        var states = new short[n];
        var topics = new string[n];
        var keys = new string?[n];
        var types = new string?[n];
        var payloads = new byte[n][];
        var headers = new string?[n];
        var created = new DateTimeOffset[n];
        var available = new DateTimeOffset[n];
        var maxAttempts = new int?[n];
        for (var i = 0; i < n; i++)
        {
            var m = messages[i];
            ids[i] = m.Id;
            (states[i], available[i]) = Schedule(m, now);
            topics[i] = m.Topic;
            keys[i] = m.Key;
            types[i] = m.Type;
            payloads[i] = m.Payload.ToArray();
            headers[i] = HeaderSerializer.Serialize(m.Headers);
            created[i] = now;
            maxAttempts[i] = m.MaxAttempts;
        }

        var command = new NpgsqlBatchCommand(_insert);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids });
        p.Add(new NpgsqlParameter<short[]> { TypedValue = states });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = topics });
        p.Add(new NpgsqlParameter<string?[]> { TypedValue = keys });
        p.Add(new NpgsqlParameter<string?[]> { TypedValue = types });
        p.Add(new NpgsqlParameter<byte[][]> { TypedValue = payloads });
        p.Add(new NpgsqlParameter<string?[]> { TypedValue = headers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        p.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = created });
        p.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = available });
        p.Add(new NpgsqlParameter<int?[]> { TypedValue = maxAttempts });
        return command;
    }

    // A message delayed into the future is scheduled (OutboxState.Scheduled) so that it holds back later messages of its
    // key and is claimed through the due-time index; anything else is ready at once (OutboxState.Ready).
    private static (short State, DateTimeOffset AvailableAt) Schedule(OutboxMessage m, DateTimeOffset now) =>
        m.AvailableAt is { } at && at > now ? ((short)OutboxState.Scheduled, at) : ((short)OutboxState.Ready, now);
}
