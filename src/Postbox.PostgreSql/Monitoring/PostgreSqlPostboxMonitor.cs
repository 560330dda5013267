using System.Text;
using Npgsql;
using NpgsqlTypes;
using Postbox.Consumers;
using Postbox.Monitoring;
using Postbox.Storage;

namespace Postbox.PostgreSql.Monitoring;

/// <summary>
/// <see cref="IPostboxMonitor"/> over the PostgreSQL outbox and inbox tables. Every list reads one state through that
/// state's partial index (migrations 001, 002 and 005) and pages by keyset; every count stops at its bound.
/// </summary>
internal sealed class PostgreSqlPostboxMonitor : IPostboxMonitor
{
    private const int BatchSize = 1000;
    private const string OutboxColumns =
        "id, NULL::text, topic, key, type, state, attempts, created_at, available_at, delivered_at, last_error, last_attempt_at, seq";
    private const string InboxColumns =
        "message_id, consumer, topic, key, type, state, attempts, received_at, next_attempt_at, processed_at, errors->-1->>'error', dead_at, seq, lease_owner";

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlCommands _commands;
    private readonly TimeProvider _timeProvider;
    private readonly string _outbox;
    private readonly string _inbox;

    /// <summary>Creates the monitor.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the schema).</param>
    /// <param name="timeProvider">Clock for "retry now" and replays; <see cref="TimeProvider.System"/> when omitted.</param>
    public PostgreSqlPostboxMonitor(NpgsqlDataSource dataSource, PostgreSqlOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        var schema = new PostgreSqlSchema(options.Schema);
        _commands = new PostgreSqlCommands(schema);
        _outbox = schema.Outbox;
        _inbox = $"{schema.Quoted}.inbox";
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async Task<MonitorOverview> GetOverviewAsync(MessageSide side, int countLimit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(countLimit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(countLimit, 10_000_000);
        // Each state is counted over at most countLimit + 1 rows of its own index: a state with more says "at least".
        string sql;
        (MessageState State, short Stored)[] states;
        if (side == MessageSide.Outbox)
        {
            states = [(MessageState.Ready, OutboxState.Ready), (MessageState.InFlight, OutboxState.InFlight), (MessageState.Scheduled, OutboxState.Scheduled),
                (MessageState.Dead, OutboxState.Dead), (MessageState.Done, OutboxState.Delivered)];
            sql = string.Join("\nUNION ALL\n", states.Select(s =>
                $"SELECT {s.Stored}::smallint, false, topic, count(*) FROM (SELECT topic FROM {_outbox} WHERE state = {s.Stored} LIMIT $1) x GROUP BY topic"));
        }
        else
        {
            states = [(MessageState.InFlight, InboxRowState.Retrying), (MessageState.Dead, InboxRowState.Dead), (MessageState.Done, InboxRowState.Processed)];
            sql = $"""
                SELECT {InboxRowState.Retrying}::smallint, x.leased, x.consumer, count(*) FROM (SELECT consumer, lease_owner IS NOT NULL AS leased FROM {_inbox} WHERE state = {InboxRowState.Retrying} LIMIT $1) x GROUP BY 2, 3
                UNION ALL
                SELECT {InboxRowState.Dead}::smallint, false, consumer, count(*) FROM (SELECT consumer FROM {_inbox} WHERE state = {InboxRowState.Dead} LIMIT $1) x GROUP BY consumer
                UNION ALL
                SELECT {InboxRowState.Processed}::smallint, false, consumer, count(*) FROM (SELECT consumer FROM {_inbox} WHERE state = {InboxRowState.Processed} LIMIT $1) x GROUP BY consumer
                """;
        }

        var groups = new List<StateCount>();
        var stored = new Dictionary<short, long>();
        await using (var command = _dataSource.CreateCommand(sql))
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = countLimit + 1L });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var state = reader.GetInt16(0);
                var count = reader.GetInt64(3);
                stored[state] = stored.GetValueOrDefault(state) + count;
                groups.Add(new StateCount(reader.GetString(2), MapState(side, state, reader.GetBoolean(1)), count));
            }
        }

        var totals = new List<StateTotal>();
        foreach (var (state, code) in states)
        {
            var count = stored.GetValueOrDefault(code);
            if (side == MessageSide.Inbox && code == 2)
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
        await using (var command = _dataSource.CreateCommand(side == MessageSide.Outbox
            ? _commands.OldestPending
            : $"SELECT min(received_at) FROM {_inbox} WHERE state = {InboxRowState.Retrying}"))
        {
            var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            oldest = value is DateTime utc ? new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)) : null;
        }

        return new MonitorOverview(side, totals, groups, oldest, _timeProvider.GetUtcNow());
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
        await using var command = _dataSource.CreateCommand();
        var where = new StringBuilder(plan.Where);
        Filter(command, where, query.Side, query.Filter);
        if (cursor is { } after)
        {
            var cmp = plan.Ascending ? ">" : "<";
            if (plan.TimeColumn is { } column)
            {
                var at = Add(command, new DateTimeOffset(after.Ticks!.Value, TimeSpan.Zero));
                var seq = Add(command, after.Seq);
                // The first comparison lets the time index bound the scan; the row comparison breaks ties by seq.
                where.Append(CultureInfoInvariant($" AND {column} {cmp}= {at} AND ({column}, seq) {cmp} ({at}, {seq})"));
            }
            else
            {
                where.Append(CultureInfoInvariant($" AND seq {cmp} {Add(command, after.Seq)}"));
            }
        }

        var direction = plan.Ascending ? "ASC" : "DESC";
        var order = plan.TimeColumn is { } time ? $"{time} {direction}, seq {direction}" : $"seq {direction}";
        var limit = Add(command, query.Limit + 1);
        command.CommandText = $"SELECT {(query.Side == MessageSide.Outbox ? OutboxColumns : InboxColumns)}, {plan.TimeColumn ?? "NULL::timestamptz"} "
            + $"FROM {(query.Side == MessageSide.Outbox ? _outbox : _inbox)} WHERE {where} ORDER BY {order} LIMIT {limit}";

        var items = new List<MessageSummary>();
        MonitorCursor last = default;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (items.Count == query.Limit)
            {
                return new MessagePage(items, last.ToString());
            }

            items.Add(query.Side == MessageSide.Outbox ? ReadOutbox(reader) : ReadInbox(reader));
            var sortTime = reader.IsDBNull(reader.FieldCount - 1) ? (long?)null : reader.GetFieldValue<DateTimeOffset>(reader.FieldCount - 1).UtcTicks;
            last = new MonitorCursor(plan.TimeColumn is null ? null : sortTime, reader.GetInt64(12));
        }

        return new MessagePage(items, null);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<MessageSummary>> FindAsync(MessageSide side, Guid id, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(side == MessageSide.Outbox
            ? $"SELECT {OutboxColumns} FROM {_outbox} WHERE id = $1"
            : $"SELECT {InboxColumns} FROM {_inbox} WHERE message_id = $1 ORDER BY consumer");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
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
        await using var command = _dataSource.CreateCommand();
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = message.Id });
        if (side == MessageSide.Outbox)
        {
            command.CommandText = $"""
                SELECT {OutboxColumns}, headers::text, substring(payload FROM 1 FOR {IPostboxMonitor.MaxPayloadBytes}), length(payload), max_attempts, lease_owner
                FROM {_outbox} WHERE id = $1
                """;
        }
        else
        {
            if (message.Consumer is null)
            {
                return null;
            }

            command.CommandText = $"""
                SELECT {InboxColumns}, headers::text, substring(payload FROM 1 FOR {IPostboxMonitor.MaxPayloadBytes}), length(payload), errors::text, replays
                FROM {_inbox} WHERE message_id = $1 AND consumer = $2
                """;
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Consumer });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        if (side == MessageSide.Outbox)
        {
            var summary = ReadOutbox(reader);
            var lastAttemptAt = reader.IsDBNull(11) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(11);
            IReadOnlyList<AttemptError> errors = summary.LastError is { } error && lastAttemptAt is { } at
                ? [new AttemptError(summary.Attempts, at, error)]
                : [];
            return new MessageDetail(summary, HeaderSerializer.Deserialize(reader.IsDBNull(13) ? null : reader.GetString(13)),
                reader.GetFieldValue<byte[]>(14), reader.GetInt32(15), reader.IsDBNull(16) ? null : reader.GetInt32(16),
                reader.IsDBNull(17) ? null : reader.GetString(17), errors, Replays: 0);
        }

        var entry = ReadInbox(reader);
        var payload = reader.IsDBNull(15) ? [] : reader.GetFieldValue<byte[]>(15);
        return new MessageDetail(entry, HeaderSerializer.Deserialize(reader.IsDBNull(14) ? null : reader.GetString(14)), payload,
            reader.IsDBNull(16) ? null : reader.GetInt32(16), MaxAttempts: null, reader.IsDBNull(13) ? null : reader.GetString(13),
            InboxErrorSerializer.Parse(reader.GetString(17)).Select(e => new AttemptError(e.Attempt, e.At, e.Error)).ToList(),
            reader.GetInt32(18));
    }

    /// <inheritdoc />
    public Task<int> ReplayDeadAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken) =>
        UpdateAsync(side, messages,
            $"UPDATE {_outbox} SET state = {OutboxState.Ready}, attempts = 0, available_at = $2 WHERE id = ANY($1) AND state = {OutboxState.Dead}",
            $"""
            UPDATE {_inbox} i SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = $3, dead_at = NULL, lease_owner = NULL, replays = replays + 1
            FROM unnest($1, $2) AS r(id, consumer) WHERE i.message_id = r.id AND i.consumer = r.consumer AND i.state = {InboxRowState.Dead}
            """, cancellationToken);

    /// <inheritdoc />
    public async Task<int> ReplayAllDeadAsync(MessageSide side, MessageFilter filter, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var total = 0;
        while (true)
        {
            await using var command = _dataSource.CreateCommand();
            var now = Add(command, _timeProvider.GetUtcNow());
            var where = new StringBuilder(side == MessageSide.Outbox ? $"state = {OutboxState.Dead}" : $"state = {InboxRowState.Dead}");
            Filter(command, where, side, filter);
            // Batches keep each statement short (row locks, WAL); SKIP LOCKED leaves rows another operator is replaying.
            command.CommandText = side == MessageSide.Outbox
                ? $"""
                  UPDATE {_outbox} SET state = {OutboxState.Ready}, attempts = 0, available_at = {now}
                  WHERE id IN (SELECT id FROM {_outbox} WHERE {where} ORDER BY seq LIMIT {BatchSize} FOR UPDATE SKIP LOCKED)
                  """
                : $"""
                  UPDATE {_inbox} SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = {now}, dead_at = NULL, lease_owner = NULL, replays = replays + 1
                  WHERE (message_id, consumer) IN (SELECT message_id, consumer FROM {_inbox} WHERE {where}
                                                    LIMIT {BatchSize} FOR UPDATE SKIP LOCKED)
                  """;
            var count = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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
            $"UPDATE {_outbox} SET available_at = $2 WHERE id = ANY($1) AND state = {OutboxState.Scheduled}",
            $"""
            UPDATE {_inbox} i SET next_attempt_at = $3 FROM unnest($1, $2) AS r(id, consumer)
            WHERE i.message_id = r.id AND i.consumer = r.consumer AND i.state = {InboxRowState.Retrying} AND i.lease_owner IS NULL
            """, cancellationToken);

    /// <inheritdoc />
    public Task<int> DeleteAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken) =>
        UpdateAsync(side, messages,
            $"DELETE FROM {_outbox} WHERE id = ANY($1) AND state IN ({OutboxState.Ready}, {OutboxState.Dead}, {OutboxState.Scheduled})",
            $"""
            DELETE FROM {_inbox} i USING unnest($1, $2) AS r(id, consumer)
            WHERE i.message_id = r.id AND i.consumer = r.consumer AND (i.state = {InboxRowState.Dead} OR (i.state = {InboxRowState.Retrying} AND i.lease_owner IS NULL))
            """, cancellationToken, withTime: false);

    private async Task<int> UpdateAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, string outboxSql, string inboxSql, CancellationToken cancellationToken,
        bool withTime = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            return 0;
        }

        var now = _timeProvider.GetUtcNow();
        await using var command = _dataSource.CreateCommand(side == MessageSide.Outbox ? outboxSql : inboxSql);
        if (side == MessageSide.Outbox)
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. messages.Select(m => m.Id)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        }
        else
        {
            var refs = messages.Where(m => m.Consumer is not null).ToList();
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. refs.Select(m => m.Id)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. refs.Select(m => m.Consumer!)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        }

        if (withTime)
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void Filter(NpgsqlCommand command, StringBuilder where, MessageSide side, MessageFilter filter)
    {
        if (filter.Topic is { } topic)
        {
            where.Append(CultureInfoInvariant($" AND topic = {Add(command, topic)}"));
        }

        if (filter.Key is { } key)
        {
            where.Append(CultureInfoInvariant($" AND key = {Add(command, key)}"));
        }

        if (side == MessageSide.Inbox && filter.Consumer is { } consumer)
        {
            where.Append(CultureInfoInvariant($" AND consumer = {Add(command, consumer)}"));
        }
    }

    private static string Add<T>(NpgsqlCommand command, T value)
    {
        command.Parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
        return "$" + command.Parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string CultureInfoInvariant(FormattableString text) => FormattableString.Invariant(text);

    private static MessageState MapState(MessageSide side, short stored, bool leased) => side == MessageSide.Outbox
        ? stored switch
        {
            OutboxState.Ready => MessageState.Ready,
            OutboxState.InFlight => MessageState.InFlight,
            OutboxState.Scheduled => MessageState.Scheduled,
            OutboxState.Dead => MessageState.Dead,
            _ => MessageState.Done,
        }
        : stored switch { InboxRowState.Retrying => leased ? MessageState.InFlight : MessageState.Scheduled, InboxRowState.Dead => MessageState.Dead, _ => MessageState.Done };

    // Columns: 0 id, 1 consumer, 2 topic, 3 key, 4 type, 5 state, 6 attempts, 7 created_at, 8 available_at, 9 delivered_at,
    // 10 last_error, 11 last_attempt_at, 12 seq.
    private static MessageSummary ReadOutbox(NpgsqlDataReader reader)
    {
        var state = MapState(MessageSide.Outbox, reader.GetInt16(5), leased: false);
        DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
        return new MessageSummary(reader.GetGuid(0), null, reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), state, reader.GetInt32(6), reader.GetFieldValue<DateTimeOffset>(7),
            state is MessageState.InFlight or MessageState.Scheduled ? Time(8) : null,
            state == MessageState.Done ? Time(9) : state == MessageState.Dead ? Time(11) : null,
            reader.IsDBNull(10) ? null : reader.GetString(10));
    }

    // Columns: 0 message_id, 1 consumer, 2 topic, 3 key, 4 type, 5 state, 6 attempts, 7 received_at, 8 next_attempt_at,
    // 9 processed_at, 10 last error, 11 dead_at, 12 seq, 13 lease_owner.
    private static MessageSummary ReadInbox(NpgsqlDataReader reader)
    {
        var state = MapState(MessageSide.Inbox, reader.GetInt16(5), leased: !reader.IsDBNull(13));
        DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
        return new MessageSummary(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), state, reader.GetInt32(6), reader.GetFieldValue<DateTimeOffset>(7),
            state is MessageState.InFlight or MessageState.Scheduled ? Time(8) : null,
            state == MessageState.Done ? Time(9) : state == MessageState.Dead ? Time(11) : null,
            reader.IsDBNull(10) ? null : reader.GetString(10));
    }

    /// <summary>How one state is listed: its rows, its sort column (null: seq alone) and direction.</summary>
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
