using System.Data.Common;
using Postbox.Storage;

namespace Postbox.Monitoring;

/// <summary>
/// <see cref="IPostboxPauses"/> for the SQL stores, written once: every store keeps the same <c>pauses</c> table
/// (migration 006: side, name, paused_at, paused_by). Each store supplies its dialect and, for resume, how it keeps
/// out of a claim's way.
/// </summary>
/// <remarks>
/// The race resume must not lose: a claim reads the pauses and parks the keyless messages of paused topics (scheduled,
/// due at <see cref="OutboxState.ParkedUntil"/>). If a resume deleted the pause and un-parked the topic's messages
/// between that read and the claim's commit, the claim would then commit rows parked under no pause, and nothing would
/// ever un-park them. So resume takes the claim's own lock (<see cref="ResumeLock"/>: the advisory lock on PostgreSQL,
/// the claim-lock row on MySQL; SQLite serializes writers by itself) before it deletes the pause, and runs after any
/// claim in progress or before it entirely.
/// </remarks>
internal abstract class SqlPostboxPauses : IPostboxPauses
{
    /// <summary>The longest <c>paused_by</c> kept, in characters.</summary>
    public const int MaxPausedByLength = 200;

    /// <summary>Creates the pause store.</summary>
    /// <param name="pauses">The pauses table, as it is written in SQL.</param>
    /// <param name="timeProvider">Clock for paused_at; <see cref="TimeProvider.System"/> when omitted.</param>
    protected SqlPostboxPauses(string pauses, TimeProvider? timeProvider)
    {
        Pauses = pauses;
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The pauses table.</summary>
    protected string Pauses { get; }

    /// <summary>The clock.</summary>
    protected TimeProvider TimeProvider { get; }

    /// <summary>An insert of (@p0 side, @p1 name, @p2 paused_at, @p3 paused_by) that does nothing when the row exists.</summary>
    protected abstract string InsertIfMissing { get; }

    /// <summary>The statement that takes the claim lock inside the resume's transaction, or <see langword="null"/> when the store needs none.</summary>
    protected abstract string? ResumeLock { get; }

    /// <summary>
    /// Makes the parked outbox messages of topic @p0 ready (due @p1, now) again: keyless, scheduled, due at @p2
    /// (<see cref="OutboxState.ParkedUntil"/>).
    /// </summary>
    protected abstract string Unpark { get; }

    /// <summary>A statement run in the resume's transaction after the un-park, to wake the relays; optional.</summary>
    protected virtual string? WakeRelays => null;

    /// <summary>Opens a connection.</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Begins the resume's transaction.</summary>
    protected virtual async ValueTask<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>A time as the store keeps it (UTC).</summary>
    protected abstract object ToDb(DateTimeOffset at);

    /// <summary>Reads a (non-null) time.</summary>
    protected abstract DateTimeOffset ReadTime(DbDataReader reader, int ordinal);

    /// <summary>The stored spelling of a side.</summary>
    public static string SideName(MessageSide side) => side switch
    {
        MessageSide.Outbox => "outbox",
        MessageSide.Inbox => "inbox",
        _ => throw new ArgumentOutOfRangeException(nameof(side), side, "Outbox or Inbox."),
    };

    /// <inheritdoc />
    public async Task<bool> PauseAsync(MessageSide side, string name, string? pausedBy, CancellationToken cancellationToken)
    {
        var stored = SideName(side);
        Validate(name);
        if (pausedBy is { Length: > MaxPausedByLength })
        {
            throw new ArgumentException($"pausedBy is longer than {MaxPausedByLength} characters.", nameof(pausedBy));
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = InsertIfMissing;
        Add(command, stored);
        Add(command, name);
        Add(command, ToDb(TimeProvider.GetUtcNow()));
        Add(command, (object?)pausedBy ?? DBNull.Value);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async Task<bool> ResumeAsync(MessageSide side, string name, CancellationToken cancellationToken)
    {
        var stored = SideName(side);
        Validate(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await BeginAsync(connection, cancellationToken).ConfigureAwait(false);
        if (side == MessageSide.Outbox && ResumeLock is { } lockSql)
        {
            await using var take = connection.CreateCommand();
            take.Transaction = transaction;
            take.CommandText = lockSql;
            await take.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        bool removed;
        await using (var delete = connection.CreateCommand())
        {
            delete.Transaction = transaction;
            delete.CommandText = $"DELETE FROM {Pauses} WHERE side = @p0 AND name = @p1";
            Add(delete, stored);
            Add(delete, name);
            removed = await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }

        if (side == MessageSide.Outbox)
        {
            // Also when no pause row was found: parked rows of a topic that is not paused are never right, and this is
            // the operator's way to let them go.
            await using var unpark = connection.CreateCommand();
            unpark.Transaction = transaction;
            unpark.CommandText = WakeRelays is { } wake ? Unpark + ";\n" + wake : Unpark;
            Add(unpark, name);
            Add(unpark, ToDb(TimeProvider.GetUtcNow()));
            Add(unpark, ToDb(OutboxState.ParkedUntil));
            await unpark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PausedName>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT side, name, paused_at, paused_by FROM {Pauses}";
        var list = new List<PausedName>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var side = reader.GetString(0) == "inbox" ? MessageSide.Inbox : MessageSide.Outbox;
                list.Add(new PausedName(side, reader.GetString(1), ReadTime(reader, 2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }

        list.Sort(static (a, b) => a.Side != b.Side ? a.Side.CompareTo(b.Side) : string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    private static void Validate(string name)
    {
        // Blank too: no topic or consumer is (OutboxMessage and the consumer options refuse it), so such a pause would
        // match nothing and be listed as an empty row.
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Length > IPostboxPauses.MaxNameLength)
        {
            throw new ArgumentException($"The name is longer than {IPostboxPauses.MaxNameLength} characters.", nameof(name));
        }

        if (name.Contains('\0', StringComparison.Ordinal))
        {
            // The same on every store: PostgreSQL cannot hold a NUL in text, and no topic or consumer has one.
            throw new ArgumentException("The name contains a NUL character.", nameof(name));
        }
    }

    private static void Add(DbCommand command, object value) => SqlParameters.Add(command, value);
}
