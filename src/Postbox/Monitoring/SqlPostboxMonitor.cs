using System.Data.Common;
using System.Globalization;
using System.Text;
using Postbox.Consumers;
using Postbox.Storage;

namespace Postbox.Monitoring;

/// <summary>
/// <see cref="IPostboxMonitor"/> for the SQL stores, written once: the stores keep the same tables, states and columns
/// (outbox state 0 ready, 1 delivered, 2 dead, 3 in flight, 4 scheduled; inbox 1 processed, 2 retrying, 3 dead), so
/// the lists, counts and actions are the same statements. Each store supplies its dialect: connections, how ids and
/// times are stored, the column lists (JSON and sequence expressions differ), the oldest-pending query and the batched
/// bulk replay.
/// </summary>
/// <remarks>
/// Every list reads one state through that state's index and pages by keyset; every count stops at its bound. Statements
/// use named parameters (<c>@p0</c>, <c>@p1</c>, …), which Npgsql, Microsoft.Data.Sqlite and MySqlConnector all accept.
/// </remarks>
internal abstract class SqlPostboxMonitor : IPostboxMonitor
{
    /// <summary>Rows per statement of <see cref="ReplayAllDeadAsync"/>.</summary>
    protected const int BatchSize = 1000;

    // Rows named per statement by the actions on chosen messages: two parameters per inbox row, far below every store's
    // parameter limit (SQLite's 32,766 is the lowest).
    private const int RefsPerStatement = 500;

    /// <summary>Creates the monitor.</summary>
    /// <param name="outbox">The outbox table, as it is written in SQL (validated or quoted by the store).</param>
    /// <param name="inbox">The inbox table, as it is written in SQL.</param>
    /// <param name="timeProvider">Clock for "retry now" and replays; <see cref="TimeProvider.System"/> when omitted.</param>
    protected SqlPostboxMonitor(string outbox, string inbox, TimeProvider? timeProvider)
    {
        Outbox = outbox;
        Inbox = inbox;
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The outbox table.</summary>
    protected string Outbox { get; }

    /// <summary>The inbox table.</summary>
    protected string Inbox { get; }

    /// <summary>The clock.</summary>
    protected TimeProvider TimeProvider { get; }

    /// <summary>
    /// The outbox columns a summary reads, in this order: 0 id, 1 consumer (NULL), 2 topic, 3 key, 4 type, 5 state,
    /// 6 attempts, 7 created_at, 8 available_at, 9 delivered_at, 10 last_error, 11 last_attempt_at, 12 seq.
    /// </summary>
    protected abstract string OutboxColumns { get; }

    /// <summary>
    /// The inbox columns a summary reads, in this order: 0 message_id, 1 consumer, 2 topic, 3 key, 4 type, 5 state,
    /// 6 attempts, 7 received_at, 8 next_attempt_at, 9 processed_at, 10 the last error's text, 11 dead_at, 12 the arrival
    /// sequence, 13 lease_owner.
    /// </summary>
    protected abstract string InboxColumns { get; }

    /// <summary>The inbox's arrival sequence column (the keyset tie-breaker).</summary>
    protected virtual string InboxSeq => "seq";

    /// <summary>The key column as it is written in SQL (a reserved word in MySQL).</summary>
    protected virtual string KeyColumn => "key";

    /// <summary>The headers column read as text.</summary>
    protected virtual string HeadersText => "headers";

    /// <summary>The inbox's error history read as text.</summary>
    protected virtual string ErrorsText => "errors";

    /// <summary>Opens a connection.</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A message id as the store keeps it.</summary>
    protected abstract object ToDb(Guid id);

    /// <summary>A time as the store keeps it (UTC).</summary>
    protected abstract object ToDb(DateTimeOffset at);

    /// <summary>Reads a message id.</summary>
    protected abstract Guid ReadId(DbDataReader reader, int ordinal);

    /// <summary>Reads a (non-null) time.</summary>
    protected abstract DateTimeOffset ReadTime(DbDataReader reader, int ordinal);

    /// <summary>The creation time of the oldest outbox message not yet delivered nor dead, through the claim's indexes.</summary>
    protected abstract Task<DateTimeOffset?> OldestPendingOutboxAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// One statement of <see cref="ReplayAllDeadAsync"/>: applies <paramref name="set"/> to at most
    /// <paramref name="batch"/> rows of <paramref name="table"/> that match <paramref name="where"/>.
    /// </summary>
    protected abstract string BatchUpdate(MessageSide side, string table, string set, string where, int batch);

    /// <summary>Runs a statement that changes rows (a store may choose its isolation level).</summary>
    protected virtual Task<int> ExecuteWriteAsync(DbCommand command, CancellationToken cancellationToken) =>
        command.ExecuteNonQueryAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<MonitorOverview> GetOverviewAsync(MessageSide side, int countLimit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(countLimit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(countLimit, 10_000_000);
        // Each state is counted over at most countLimit + 1 rows of its own index: a state with more says "at least".
        string sql;
        (MessageState State, int Stored)[] states;
        if (side == MessageSide.Outbox)
        {
            states = [(MessageState.Ready, OutboxState.Ready), (MessageState.InFlight, OutboxState.InFlight), (MessageState.Scheduled, OutboxState.Scheduled),
                (MessageState.Dead, OutboxState.Dead), (MessageState.Done, OutboxState.Delivered)];
            sql = string.Join("\nUNION ALL\n", states.Select(s => string.Create(CultureInfo.InvariantCulture,
                $"SELECT {s.Stored}, 0, x.topic, count(*) FROM (SELECT topic FROM {Outbox} WHERE state = {s.Stored} LIMIT @p0) x GROUP BY x.topic")));
        }
        else
        {
            states = [(MessageState.InFlight, InboxRowState.Retrying), (MessageState.Dead, InboxRowState.Dead), (MessageState.Done, InboxRowState.Processed)];
            sql = $"""
                SELECT {InboxRowState.Retrying}, x.leased, x.consumer, count(*) FROM (SELECT consumer, CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END AS leased
                                                              FROM {Inbox} WHERE state = {InboxRowState.Retrying} LIMIT @p0) x GROUP BY x.leased, x.consumer
                UNION ALL
                SELECT {InboxRowState.Dead}, 0, x.consumer, count(*) FROM (SELECT consumer FROM {Inbox} WHERE state = {InboxRowState.Dead} LIMIT @p0) x GROUP BY x.consumer
                UNION ALL
                SELECT {InboxRowState.Processed}, 0, x.consumer, count(*) FROM (SELECT consumer FROM {Inbox} WHERE state = {InboxRowState.Processed} LIMIT @p0) x GROUP BY x.consumer
                """;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var groups = new List<StateCount>();
        var stored = new Dictionary<int, long>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = sql;
            Add(command, countLimit + 1L);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var state = Int(reader, 0);
                var count = Long(reader, 3);
                stored[state] = stored.GetValueOrDefault(state) + count;
                groups.Add(new StateCount(reader.GetString(2), MapState(side, state, Int(reader, 1) != 0), count));
            }
        }

        var totals = new List<StateTotal>();
        foreach (var (state, code) in states)
        {
            var count = stored.GetValueOrDefault(code);
            if (side == MessageSide.Inbox && code == InboxRowState.Retrying)
            {
                // One bounded scan of state 2 serves both in flight and scheduled.
                var atLeast = count > countLimit;
                totals.Add(new StateTotal(MessageState.InFlight, groups.Where(g => g.State == MessageState.InFlight).Sum(g => g.Count), atLeast));
                totals.Add(new StateTotal(MessageState.Scheduled, groups.Where(g => g.State == MessageState.Scheduled).Sum(g => g.Count), atLeast));
                continue;
            }

            totals.Add(new StateTotal(state, Math.Min(count, countLimit), count > countLimit));
        }

        DateTimeOffset? oldest;
        if (side == MessageSide.Outbox)
        {
            oldest = await OldestPendingOutboxAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT min(received_at) FROM {Inbox} WHERE state = {InboxRowState.Retrying}";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            oldest = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && !reader.IsDBNull(0) ? ReadTime(reader, 0) : null;
        }

        return new MonitorOverview(side, totals, groups, oldest, TimeProvider.GetUtcNow());
    }

    /// <inheritdoc />
    public async Task<MessagePage> ListAsync(MessageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Limit, MessageQuery.MaxLimit);
        if (query.Side == MessageSide.Inbox && query.State == MessageState.Ready)
        {
            return new MessagePage([], null); // The inbox has no ready state: a message is received when it is handled.
        }

        var plan = ListPlan.For(query.Side, query.State);
        var cursor = MonitorCursor.Parse(query.After, plan.TimeColumn is not null);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var where = new StringBuilder(plan.Where);
        Filter(command, where, query.Side, query.Filter);
        var seq = query.Side == MessageSide.Outbox ? "seq" : InboxSeq;
        if (cursor is { } after)
        {
            var cmp = plan.Ascending ? ">" : "<";
            if (plan.TimeColumn is { } column)
            {
                var at = Add(command, ToDb(new DateTimeOffset(after.Ticks!.Value, TimeSpan.Zero)));
                var last = Add(command, after.Seq);
                // The first comparison lets the time index bound the scan; the row comparison breaks ties by sequence.
                where.Append(CultureInfo.InvariantCulture, $" AND {column} {cmp}= {at} AND ({column}, {seq}) {cmp} ({at}, {last})");
            }
            else
            {
                where.Append(CultureInfo.InvariantCulture, $" AND {seq} {cmp} {Add(command, after.Seq)}");
            }
        }

        var direction = plan.Ascending ? "ASC" : "DESC";
        var order = plan.TimeColumn is { } time ? $"{time} {direction}, {seq} {direction}" : $"{seq} {direction}";
        var limit = Add(command, query.Limit + 1);
        command.CommandText = $"SELECT {(query.Side == MessageSide.Outbox ? OutboxColumns : InboxColumns)}, {plan.TimeColumn ?? "NULL"} "
            + $"FROM {(query.Side == MessageSide.Outbox ? Outbox : Inbox)} WHERE {where} ORDER BY {order} LIMIT {limit}";

        var items = new List<MessageSummary>();
        MonitorCursor lastRow = default;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (items.Count == query.Limit)
            {
                return new MessagePage(items, lastRow.ToString());
            }

            items.Add(query.Side == MessageSide.Outbox ? ReadOutbox(reader) : ReadInbox(reader));
            var sortTime = plan.TimeColumn is null || reader.IsDBNull(reader.FieldCount - 1) ? (long?)null : ReadTime(reader, reader.FieldCount - 1).UtcTicks;
            lastRow = new MonitorCursor(sortTime, Long(reader, 12));
        }

        return new MessagePage(items, null);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<MessageSummary>> FindAsync(MessageSide side, Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var p = Add(command, ToDb(id));
        command.CommandText = side == MessageSide.Outbox
            ? $"SELECT {OutboxColumns} FROM {Outbox} WHERE id = {p}"
            : $"SELECT {InboxColumns} FROM {Inbox} WHERE message_id = {p} ORDER BY consumer";
        var result = new List<MessageSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(side == MessageSide.Outbox ? ReadOutbox(reader) : ReadInbox(reader));
        }

        return result;
    }

    /// <inheritdoc />
    public async Task<MessageDetail?> GetAsync(MessageSide side, MessageRef message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (side == MessageSide.Inbox && message.Consumer is null)
        {
            return null;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var id = Add(command, ToDb(message.Id));
        const int max = IPostboxMonitor.MaxPayloadBytes;
        command.CommandText = side == MessageSide.Outbox
            ? $"""
              SELECT {OutboxColumns}, {HeadersText}, substr(payload, 1, {max}), length(payload), max_attempts, lease_owner
              FROM {Outbox} WHERE id = {id}
              """
            : $"""
              SELECT {InboxColumns}, {HeadersText}, substr(payload, 1, {max}), length(payload), {ErrorsText}, replays
              FROM {Inbox} WHERE message_id = {id} AND consumer = {Add(command, message.Consumer!)}
              """;

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        if (side == MessageSide.Outbox)
        {
            var summary = ReadOutbox(reader);
            DateTimeOffset? lastAttemptAt = reader.IsDBNull(11) ? null : ReadTime(reader, 11);
            IReadOnlyList<AttemptError> errors = summary.LastError is { } error && lastAttemptAt is { } at
                ? [new AttemptError(summary.Attempts, at, error)]
                : [];
            return new MessageDetail(summary, HeaderSerializer.Deserialize(reader.IsDBNull(13) ? null : reader.GetString(13)),
                reader.GetFieldValue<byte[]>(14), Int(reader, 15), reader.IsDBNull(16) ? null : Int(reader, 16),
                reader.IsDBNull(17) ? null : reader.GetString(17), errors, Replays: 0);
        }

        var entry = ReadInbox(reader);
        var payload = reader.IsDBNull(15) ? [] : reader.GetFieldValue<byte[]>(15);
        return new MessageDetail(entry, HeaderSerializer.Deserialize(reader.IsDBNull(14) ? null : reader.GetString(14)), payload,
            reader.IsDBNull(16) ? null : Int(reader, 16), MaxAttempts: null, reader.IsDBNull(13) ? null : reader.GetString(13),
            InboxErrorSerializer.Parse(reader.GetString(17)).Select(e => new AttemptError(e.Attempt, e.At, e.Error)).ToList(),
            Int(reader, 18));
    }

    /// <inheritdoc />
    public Task<int> ReplayDeadAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken) =>
        UpdateAsync(side, messages,
            now => $"UPDATE {Outbox} SET state = {OutboxState.Ready}, attempts = 0, available_at = {now} WHERE state = {OutboxState.Dead} AND ",
            now => $"UPDATE {Inbox} SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = {now}, dead_at = NULL, lease_owner = NULL, replays = replays + 1 WHERE state = {InboxRowState.Dead} AND ",
            cancellationToken);

    /// <inheritdoc />
    public async Task<int> ReplayAllDeadAsync(MessageSide side, MessageFilter filter, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var total = 0;
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // Only what was dead when the call began: a replayed message that dies again while later batches run (a handler
        // failing at once, one attempt) is not replayed again, so the call ends and counts each message once. The bound is
        // the latest death time among the matching rows, read back from the store (no clock of this process compared
        // with the relays' and workers'); the outbox's death time is its last attempt's.
        var deathColumn = side == MessageSide.Outbox ? "last_attempt_at" : "dead_at";
        object bound;
        await using (var first = connection.CreateCommand())
        {
            var dead = new StringBuilder(side == MessageSide.Outbox ? $"state = {OutboxState.Dead}" : $"state = {InboxRowState.Dead}");
            Filter(first, dead, side, filter);
            first.CommandText = $"SELECT max({deathColumn}) FROM {(side == MessageSide.Outbox ? Outbox : Inbox)} WHERE {dead}";
            bound = await first.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? DBNull.Value;
        }

        while (true)
        {
            await using var command = connection.CreateCommand();
            var now = Add(command, ToDb(TimeProvider.GetUtcNow()));
            var where = new StringBuilder(side == MessageSide.Outbox ? $"state = {OutboxState.Dead}" : $"state = {InboxRowState.Dead}");
            Filter(command, where, side, filter);
            where.Append(bound is DBNull
                ? $" AND {deathColumn} IS NULL"
                : $" AND ({deathColumn} IS NULL OR {deathColumn} <= {Add(command, bound)})");
            // Batches keep each statement short (row locks, the write-ahead log, SQLite's single write lock).
            command.CommandText = side == MessageSide.Outbox
                ? BatchUpdate(side, Outbox, $"state = {OutboxState.Ready}, attempts = 0, available_at = {now}", where.ToString(), BatchSize)
                : BatchUpdate(side, Inbox, $"state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = {now}, dead_at = NULL, lease_owner = NULL, replays = replays + 1",
                    where.ToString(), BatchSize);
            var count = await ExecuteWriteAsync(command, cancellationToken).ConfigureAwait(false);
            total += count;
            progress?.Report(total);
            if (count < BatchSize)
            {
                return total;
            }
        }
    }

    /// <inheritdoc />
    public Task<int> RetryNowAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken) =>
        UpdateAsync(side, messages,
            now => $"UPDATE {Outbox} SET available_at = {now} WHERE state = {OutboxState.Scheduled} AND ",
            now => $"UPDATE {Inbox} SET next_attempt_at = {now} WHERE state = {InboxRowState.Retrying} AND lease_owner IS NULL AND ",
            cancellationToken);

    /// <inheritdoc />
    public Task<int> DeleteAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken) =>
        UpdateAsync(side, messages,
            _ => $"DELETE FROM {Outbox} WHERE state IN ({OutboxState.Ready}, {OutboxState.Dead}, {OutboxState.Scheduled}) AND ",
            _ => $"DELETE FROM {Inbox} WHERE (state = {InboxRowState.Dead} OR (state = {InboxRowState.Retrying} AND lease_owner IS NULL)) AND ",
            cancellationToken);

    /// <summary>
    /// Runs an action on chosen messages: <paramref name="outbox"/> or <paramref name="inbox"/> (given the parameter that
    /// holds "now") is completed by the list of rows, at most <see cref="RefsPerStatement"/> per statement.
    /// </summary>
    private async Task<int> UpdateAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, Func<string, string> outbox, Func<string, string> inbox,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var refs = side == MessageSide.Outbox
            ? messages.DistinctBy(m => m.Id).ToList()
            : messages.Where(m => m.Consumer is not null).Distinct().ToList();
        if (refs.Count == 0)
        {
            return 0;
        }

        var now = ToDb(TimeProvider.GetUtcNow());
        var changed = 0;
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var chunk in refs.Chunk(RefsPerStatement))
        {
            await using var command = connection.CreateCommand();
            var at = Add(command, now);
            var sql = new StringBuilder(side == MessageSide.Outbox ? outbox(at) : inbox(at));
            sql.Append(side == MessageSide.Outbox ? "id IN (" : "(message_id, consumer) IN (");
            for (var i = 0; i < chunk.Length; i++)
            {
                sql.Append(i == 0 ? string.Empty : ", ");
                sql.Append(side == MessageSide.Outbox
                    ? Add(command, ToDb(chunk[i].Id))
                    : $"({Add(command, ToDb(chunk[i].Id))}, {Add(command, chunk[i].Consumer!)})");
            }

            command.CommandText = sql.Append(')').ToString();
            changed += await ExecuteWriteAsync(command, cancellationToken).ConfigureAwait(false);
        }

        return changed;
    }

    private void Filter(DbCommand command, StringBuilder where, MessageSide side, MessageFilter filter)
    {
        if (filter.Topic is { } topic)
        {
            where.Append(CultureInfo.InvariantCulture, $" AND topic = {Add(command, topic)}");
        }

        if (filter.Key is { } key)
        {
            where.Append(CultureInfo.InvariantCulture, $" AND {KeyColumn} = {Add(command, key)}");
        }

        if (side == MessageSide.Inbox && filter.Consumer is { } consumer)
        {
            where.Append(CultureInfo.InvariantCulture, $" AND consumer = {Add(command, consumer)}");
        }
    }

    /// <summary>Adds a parameter and returns its placeholder.</summary>
    protected static string Add(DbCommand command, object value) => SqlParameters.Add(command, value);

    private static int Int(DbDataReader reader, int ordinal) => Convert.ToInt32(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    private static long Long(DbDataReader reader, int ordinal) => Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    private static MessageState MapState(MessageSide side, int stored, bool leased) => side == MessageSide.Outbox
        ? stored switch { OutboxState.Ready => MessageState.Ready, OutboxState.InFlight => MessageState.InFlight, OutboxState.Scheduled => MessageState.Scheduled, OutboxState.Dead => MessageState.Dead, _ => MessageState.Done }
        : stored switch { InboxRowState.Retrying => leased ? MessageState.InFlight : MessageState.Scheduled, InboxRowState.Dead => MessageState.Dead, _ => MessageState.Done };

    private DateTimeOffset? Time(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : ReadTime(reader, ordinal);

    private MessageSummary ReadOutbox(DbDataReader reader)
    {
        var state = MapState(MessageSide.Outbox, Int(reader, 5), leased: false);
        return new MessageSummary(ReadId(reader, 0), null, reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), state, Int(reader, 6), ReadTime(reader, 7),
            state is MessageState.InFlight or MessageState.Scheduled ? Time(reader, 8) : null,
            state == MessageState.Done ? Time(reader, 9) : state == MessageState.Dead ? Time(reader, 11) : null,
            reader.IsDBNull(10) ? null : reader.GetString(10));
    }

    private MessageSummary ReadInbox(DbDataReader reader)
    {
        var state = MapState(MessageSide.Inbox, Int(reader, 5), leased: !reader.IsDBNull(13));
        return new MessageSummary(ReadId(reader, 0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), state, Int(reader, 6), ReadTime(reader, 7),
            state is MessageState.InFlight or MessageState.Scheduled ? Time(reader, 8) : null,
            state == MessageState.Done ? Time(reader, 9) : state == MessageState.Dead ? Time(reader, 11) : null,
            reader.IsDBNull(10) ? null : reader.GetString(10));
    }

    /// <summary>How one state is listed: its rows, its sort column (null: the sequence alone) and direction.</summary>
    private sealed record ListPlan(string Where, string? TimeColumn, bool Ascending)
    {
        public static ListPlan For(MessageSide side, MessageState state) => (side, state) switch
        {
            (MessageSide.Outbox, MessageState.Ready) => new($"state = {OutboxState.Ready}", null, false),
            (MessageSide.Outbox, MessageState.InFlight) => new($"state = {OutboxState.InFlight}", null, false),
            (MessageSide.Outbox, MessageState.Scheduled) => new($"state = {OutboxState.Scheduled}", null, false),
            (MessageSide.Outbox, MessageState.Dead) => new($"state = {OutboxState.Dead}", null, false),
            (MessageSide.Outbox, MessageState.Done) => new($"state = {OutboxState.Delivered}", "delivered_at", false),
            (MessageSide.Inbox, MessageState.InFlight) => new($"state = {InboxRowState.Retrying} AND lease_owner IS NOT NULL", "next_attempt_at", true),
            (MessageSide.Inbox, MessageState.Scheduled) => new($"state = {InboxRowState.Retrying} AND lease_owner IS NULL", "next_attempt_at", true),
            (MessageSide.Inbox, MessageState.Dead) => new($"state = {InboxRowState.Dead}", "dead_at", false),
            (MessageSide.Inbox, MessageState.Done) => new($"state = {InboxRowState.Processed}", "processed_at", false),
            _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown state."),
        };
    }
}
