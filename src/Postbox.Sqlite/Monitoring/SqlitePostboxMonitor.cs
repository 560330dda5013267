using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postbox.Consumers;
using Postbox.Monitoring;
using Postbox.Storage;

namespace Postbox.Sqlite.Monitoring;

/// <summary>
/// <see cref="IPostboxMonitor"/> over the SQLite outbox and inbox tables: keyset pages through the state indexes
/// (migrations 002 and 005, the rowid as the sequence), counts bounded per state.
/// </summary>
internal sealed class SqlitePostboxMonitor : IPostboxMonitor
{
    private const int BatchSize = 1000;
    private const string OutboxColumns =
        "id, NULL, topic, key, type, state, attempts, created_at, available_at, delivered_at, last_error, last_attempt_at, seq";
    private const string InboxColumns =
        "message_id, consumer, topic, key, type, state, attempts, received_at, next_attempt_at, processed_at, json_extract(errors, '$[#-1].error'), dead_at, rowid, lease_owner";

    private readonly string _connectionString;
    private readonly SqliteTables _tables;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates the monitor.</summary>
    /// <param name="options">Store options.</param>
    /// <param name="timeProvider">Clock for "retry now" and replays; <see cref="TimeProvider.System"/> when omitted.</param>
    public SqlitePostboxMonitor(SqliteOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));
        _tables = new SqliteTables(options.TablePrefix);
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async Task<MonitorOverview> GetOverviewAsync(MessageSide side, int countLimit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(countLimit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(countLimit, 10_000_000);
        (MessageState State, int Stored)[] states;
        string sql;
        if (side == MessageSide.Outbox)
        {
            states = [(MessageState.Ready, OutboxState.Ready), (MessageState.InFlight, OutboxState.InFlight), (MessageState.Scheduled, OutboxState.Scheduled),
                (MessageState.Dead, OutboxState.Dead), (MessageState.Done, OutboxState.Delivered)];
            sql = string.Join("\nUNION ALL\n", states.Select(s =>
                $"SELECT {s.Stored}, 0, topic, count(*) FROM (SELECT topic FROM {_tables.Outbox} WHERE state = {s.Stored} LIMIT @n) GROUP BY topic"));
        }
        else
        {
            states = [(MessageState.InFlight, InboxRowState.Retrying), (MessageState.Dead, InboxRowState.Dead), (MessageState.Done, InboxRowState.Processed)];
            var t = _tables.Inbox;
            sql = $"""
                SELECT {InboxRowState.Retrying}, leased, consumer, count(*) FROM (SELECT consumer, lease_owner IS NOT NULL AS leased FROM {t} WHERE state = {InboxRowState.Retrying} LIMIT @n) GROUP BY 2, 3
                UNION ALL
                SELECT {InboxRowState.Dead}, 0, consumer, count(*) FROM (SELECT consumer FROM {t} WHERE state = {InboxRowState.Dead} LIMIT @n) GROUP BY consumer
                UNION ALL
                SELECT {InboxRowState.Processed}, 0, consumer, count(*) FROM (SELECT consumer FROM {t} WHERE state = {InboxRowState.Processed} LIMIT @n) GROUP BY consumer
                """;
        }

        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        var groups = new List<StateCount>();
        var stored = new Dictionary<int, long>();
        await using (var command = new SqliteCommand(sql, connection))
        {
            command.Parameters.AddWithValue("@n", countLimit + 1L);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var state = reader.GetInt32(0);
                var count = reader.GetInt64(3);
                stored[state] = stored.GetValueOrDefault(state) + count;
                groups.Add(new StateCount(reader.GetString(2), MapState(side, state, reader.GetInt64(1) != 0), count));
            }
        }

        var totals = new List<StateTotal>();
        foreach (var (state, code) in states)
        {
            var count = stored.GetValueOrDefault(code);
            if (side == MessageSide.Inbox && code == 2)
            {
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
            oldest = await SqliteOutboxMonitor.OldestPendingAsync(connection, _tables, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await using var command = new SqliteCommand($"SELECT min(received_at) FROM {_tables.Inbox} WHERE state = {InboxRowState.Retrying}", connection);
            oldest = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ticks ? SqliteTime.FromTicks(ticks) : null;
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
            return new MessagePage([], null);
        }

        var plan = ListPlan.For(query.Side, query.State);
        var cursor = MonitorCursor.Parse(query.After, plan.TimeColumn is not null);
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var where = new StringBuilder(plan.Where);
        Filter(command, where, query.Side, query.Filter);
        var seqColumn = query.Side == MessageSide.Outbox ? "seq" : "rowid";
        if (cursor is { } after)
        {
            var cmp = plan.Ascending ? ">" : "<";
            command.Parameters.AddWithValue("@afterSeq", after.Seq);
            if (plan.TimeColumn is { } column)
            {
                command.Parameters.AddWithValue("@afterAt", after.Ticks!.Value);
                where.Append($" AND {column} {cmp}= @afterAt AND ({column}, {seqColumn}) {cmp} (@afterAt, @afterSeq)");
            }
            else
            {
                where.Append($" AND {seqColumn} {cmp} @afterSeq");
            }
        }

        var direction = plan.Ascending ? "ASC" : "DESC";
        var order = plan.TimeColumn is { } time ? $"{time} {direction}, {seqColumn} {direction}" : $"{seqColumn} {direction}";
        command.Parameters.AddWithValue("@limit", query.Limit + 1);
        command.CommandText = $"SELECT {(query.Side == MessageSide.Outbox ? OutboxColumns : InboxColumns)}, {plan.TimeColumn ?? "NULL"} "
            + $"FROM {(query.Side == MessageSide.Outbox ? _tables.Outbox : _tables.Inbox)} WHERE {where} ORDER BY {order} LIMIT @limit";

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
            var sortTime = reader.IsDBNull(reader.FieldCount - 1) ? (long?)null : reader.GetInt64(reader.FieldCount - 1);
            last = new MonitorCursor(plan.TimeColumn is null ? null : sortTime, reader.GetInt64(12));
        }

        return new MessagePage(items, null);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<MessageSummary>> FindAsync(MessageSide side, Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = new SqliteCommand(side == MessageSide.Outbox
            ? $"SELECT {OutboxColumns} FROM {_tables.Outbox} WHERE id = @id"
            : $"SELECT {InboxColumns} FROM {_tables.Inbox} WHERE message_id = @id ORDER BY consumer", connection);
        command.Parameters.AddWithValue("@id", id.ToString("D"));
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

        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.Parameters.AddWithValue("@id", message.Id.ToString("D"));
        command.CommandText = side == MessageSide.Outbox
            ? $"""
              SELECT {OutboxColumns}, headers, substr(payload, 1, {IPostboxMonitor.MaxPayloadBytes}), length(payload), max_attempts, lease_owner
              FROM {_tables.Outbox} WHERE id = @id
              """
            : $"""
              SELECT {InboxColumns}, headers, substr(payload, 1, {IPostboxMonitor.MaxPayloadBytes}), length(payload), errors, replays
              FROM {_tables.Inbox} WHERE message_id = @id AND consumer = @consumer
              """;
        if (side == MessageSide.Inbox)
        {
            command.Parameters.AddWithValue("@consumer", message.Consumer);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        if (side == MessageSide.Outbox)
        {
            var summary = ReadOutbox(reader);
            DateTimeOffset? lastAttemptAt = reader.IsDBNull(11) ? null : SqliteTime.FromTicks(reader.GetInt64(11));
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
            $"UPDATE {_tables.Outbox} SET state = {OutboxState.Ready}, attempts = 0, available_at = @now WHERE id IN (SELECT value FROM json_each(@ids)) AND state = {OutboxState.Dead}",
            $"""
            UPDATE {_tables.Inbox} SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = @now, dead_at = NULL, lease_owner = NULL, replays = replays + 1
            WHERE (message_id, consumer) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@refs)) AND state = {InboxRowState.Dead}
            """, cancellationToken);

    /// <inheritdoc />
    public async Task<int> ReplayAllDeadAsync(MessageSide side, MessageFilter filter, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var total = 0;
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            await using var command = connection.CreateCommand();
            command.Parameters.AddWithValue("@now", SqliteTime.ToTicks(_timeProvider.GetUtcNow()));
            command.Parameters.AddWithValue("@batch", BatchSize);
            var where = new StringBuilder(side == MessageSide.Outbox ? $"state = {OutboxState.Dead}" : $"state = {InboxRowState.Dead}");
            Filter(command, where, side, filter);
            // Short statements: a writer holds SQLite's one write lock for the whole statement.
            command.CommandText = side == MessageSide.Outbox
                ? $"""
                  UPDATE {_tables.Outbox} SET state = {OutboxState.Ready}, attempts = 0, available_at = @now
                  WHERE seq IN (SELECT seq FROM {_tables.Outbox} WHERE {where} ORDER BY seq LIMIT @batch)
                  """
                : $"""
                  UPDATE {_tables.Inbox} SET state = {InboxRowState.Retrying}, attempts = 0, next_attempt_at = @now, dead_at = NULL, lease_owner = NULL, replays = replays + 1
                  WHERE rowid IN (SELECT rowid FROM {_tables.Inbox} WHERE {where} LIMIT @batch)
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
            $"UPDATE {_tables.Outbox} SET available_at = @now WHERE id IN (SELECT value FROM json_each(@ids)) AND state = {OutboxState.Scheduled}",
            $"""
            UPDATE {_tables.Inbox} SET next_attempt_at = @now
            WHERE (message_id, consumer) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@refs))
              AND state = {InboxRowState.Retrying} AND lease_owner IS NULL
            """, cancellationToken);

    /// <inheritdoc />
    public Task<int> DeleteAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, CancellationToken cancellationToken) =>
        UpdateAsync(side, messages,
            $"DELETE FROM {_tables.Outbox} WHERE id IN (SELECT value FROM json_each(@ids)) AND state IN ({OutboxState.Ready}, {OutboxState.Dead}, {OutboxState.Scheduled})",
            $"""
            DELETE FROM {_tables.Inbox}
            WHERE (message_id, consumer) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@refs))
              AND (state = {InboxRowState.Dead} OR (state = {InboxRowState.Retrying} AND lease_owner IS NULL))
            """, cancellationToken);

    private async Task<int> UpdateAsync(MessageSide side, IReadOnlyCollection<MessageRef> messages, string outboxSql, string inboxSql, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            return 0;
        }

        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await using var command = new SqliteCommand(side == MessageSide.Outbox ? outboxSql : inboxSql, connection);
        if (side == MessageSide.Outbox)
        {
            command.Parameters.AddWithValue("@ids", JsonSerializer.Serialize(messages.Select(m => m.Id.ToString("D"))));
        }
        else
        {
            command.Parameters.AddWithValue("@refs", JsonSerializer.Serialize(
                messages.Where(m => m.Consumer is not null).Select(m => new[] { m.Id.ToString("D"), m.Consumer! })));
        }

        if (outboxSql.Contains("@now", StringComparison.Ordinal) || inboxSql.Contains("@now", StringComparison.Ordinal))
        {
            command.Parameters.AddWithValue("@now", SqliteTime.ToTicks(_timeProvider.GetUtcNow()));
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void Filter(SqliteCommand command, StringBuilder where, MessageSide side, MessageFilter filter)
    {
        if (filter.Topic is { } topic)
        {
            command.Parameters.AddWithValue("@topic", topic);
            where.Append(" AND topic = @topic");
        }

        if (filter.Key is { } key)
        {
            command.Parameters.AddWithValue("@key", key);
            where.Append(" AND key = @key");
        }

        if (side == MessageSide.Inbox && filter.Consumer is { } consumer)
        {
            command.Parameters.AddWithValue("@consumer", consumer);
            where.Append(" AND consumer = @consumer");
        }
    }

    private static MessageState MapState(MessageSide side, long stored, bool leased) => side == MessageSide.Outbox
        ? stored switch
        {
            OutboxState.Ready => MessageState.Ready,
            OutboxState.InFlight => MessageState.InFlight,
            OutboxState.Scheduled => MessageState.Scheduled,
            OutboxState.Dead => MessageState.Dead,
            _ => MessageState.Done,
        }
        : stored switch { InboxRowState.Retrying => leased ? MessageState.InFlight : MessageState.Scheduled, InboxRowState.Dead => MessageState.Dead, _ => MessageState.Done };

    private static DateTimeOffset? Time(SqliteDataReader reader, int i) => reader.IsDBNull(i) ? null : SqliteTime.FromTicks(reader.GetInt64(i));

    private static MessageSummary ReadOutbox(SqliteDataReader reader)
    {
        var state = MapState(MessageSide.Outbox, reader.GetInt64(5), leased: false);
        return new MessageSummary(Guid.Parse(reader.GetString(0)), null, reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), state, reader.GetInt32(6), SqliteTime.FromTicks(reader.GetInt64(7)),
            state is MessageState.InFlight or MessageState.Scheduled ? Time(reader, 8) : null,
            state == MessageState.Done ? Time(reader, 9) : state == MessageState.Dead ? Time(reader, 11) : null,
            reader.IsDBNull(10) ? null : reader.GetString(10));
    }

    private static MessageSummary ReadInbox(SqliteDataReader reader)
    {
        var state = MapState(MessageSide.Inbox, reader.GetInt64(5), leased: !reader.IsDBNull(13));
        return new MessageSummary(Guid.Parse(reader.GetString(0)), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), state, reader.GetInt32(6), SqliteTime.FromTicks(reader.GetInt64(7)),
            state is MessageState.InFlight or MessageState.Scheduled ? Time(reader, 8) : null,
            state == MessageState.Done ? Time(reader, 9) : state == MessageState.Dead ? Time(reader, 11) : null,
            reader.IsDBNull(10) ? null : reader.GetString(10));
    }

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
