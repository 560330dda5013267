using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Postbox.Storage;
using NpgsqlTypes;
using Postbox.Consumers;

namespace Postbox.PostgreSql.Consumers;

/// <summary>
/// The PostgreSQL inbox (table <c>inbox</c>, migration 002): dedupe rows written in the handler's transaction,
/// durable retries claimed under a lease, dead letters with their error history, replay.
/// </summary>
internal sealed class PostgreSqlInboxStore : IInboxStore, IInboxAdmin
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource _handlerDataSource;
    private readonly InboxCommands _commands;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    /// <summary>Creates the inbox over <paramref name="dataSource"/> in the schema of <paramref name="options"/>.</summary>
    /// <param name="dataSource">Connection source (pooled) for the inbox's statements and the handlers' transactions.
    /// Each message in flight holds one connection. Handler code runs on its connections: keep the pool's reset on
    /// return (the default; not <c>No Reset On Close</c>) so one handler's session state cannot reach another.</param>
    /// <param name="options">Store options (the schema).</param>
    /// <param name="timeProvider">Clock for replays; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <param name="logger">Logger; optional.</param>
    public PostgreSqlInboxStore(NpgsqlDataSource dataSource, PostgreSqlOptions options, TimeProvider? timeProvider = null, ILogger<PostgreSqlInboxStore>? logger = null)
        : this(dataSource, dataSource, options, timeProvider, logger)
    {
    }

    /// <summary>
    /// Creates the inbox with the handlers' transactions on <paramref name="handlerDataSource"/> and the inbox's own
    /// statements (failures, retry claims, cleanup, admin) on <paramref name="dataSource"/>.
    /// </summary>
    /// <param name="dataSource">Connection source for the inbox's own statements; may skip the reset on return.</param>
    /// <param name="handlerDataSource">Connection source of the inbox transactions handler code runs in: one connection
    /// per message in flight. Must reset connections on return (the default) so one handler's session state
    /// (<c>SET</c>, temp tables, session advisory locks) cannot reach another.</param>
    /// <param name="options">Store options (the schema).</param>
    /// <param name="timeProvider">Clock for replays; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <param name="logger">Logger; optional.</param>
    public PostgreSqlInboxStore(NpgsqlDataSource dataSource, NpgsqlDataSource handlerDataSource, PostgreSqlOptions options, TimeProvider? timeProvider = null,
        ILogger<PostgreSqlInboxStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _handlerDataSource = handlerDataSource ?? throw new ArgumentNullException(nameof(handlerDataSource));
        _commands = new InboxCommands(new PostgreSqlSchema(options.Schema));
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public Task<InboxTransaction?> BeginAsync(Guid messageId, string consumer, string topic, DateTimeOffset now, CancellationToken cancellationToken) =>
        BeginAsync(_commands.Begin, messageId, consumer, topic, now, cancellationToken);

    /// <inheritdoc />
    public async Task<KeyedInboxBegin> BeginInKeyOrderAsync(Guid messageId, string consumer, string topic, string key, bool deadBlocksKey,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var transaction = await BeginAsync(_commands.BeginInKeyOrder, messageId, consumer, topic, now, cancellationToken,
            new NpgsqlParameter<string> { TypedValue = key }, new NpgsqlParameter<bool> { TypedValue = deadBlocksKey }).ConfigureAwait(false);
        if (transaction is not null)
        {
            return new KeyedInboxBegin(transaction, KeyBlocked: false);
        }

        // Rare path (a duplicate or a held key): one more query tells them apart.
        await using var exists = _dataSource.CreateCommand(_commands.Exists);
        exists.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = messageId });
        exists.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        var recorded = (bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return new KeyedInboxBegin(null, KeyBlocked: !recorded);
    }

    /// <inheritdoc />
    public async Task<bool> ParkAsync(InboxParking parking, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parking);
        await using var command = _dataSource.CreateCommand(_commands.Park);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = parking.MessageId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = parking.Consumer });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = parking.Topic });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = parking.Key });
        command.Parameters.Add(Nullable(parking.Type));
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = parking.Payload.ToArray() });
        command.Parameters.Add(new NpgsqlParameter
        {
            Value = parking.Headers.Count == 0 ? DBNull.Value : JsonSerializer.Serialize(parking.Headers),
            NpgsqlDbType = NpgsqlDbType.Jsonb,
        });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = parking.At });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public Task<InboxTransaction?> BeginRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken) =>
        BeginAsync(_commands.BeginRetry, messageId, consumer, owner, now, cancellationToken);

    private async Task<InboxTransaction?> BeginAsync(string sql, Guid messageId, string consumer, string third, DateTimeOffset now, CancellationToken cancellationToken,
        params NpgsqlParameter[] extra)
    {
        var connection = await _handlerDataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlTransaction? transaction = null;
        try
        {
            transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = messageId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = third });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            command.Parameters.AddRange(extra);
            if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
            {
                return new PostgreSqlInboxTransaction(connection, transaction, _dataSource, _timeProvider);
            }
        }
        catch
        {
            await DisposeAsync(connection, transaction).ConfigureAwait(false);
            throw;
        }

        await DisposeAsync(connection, transaction).ConfigureAwait(false);
        return null;
    }

    private static async ValueTask DisposeAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        if (transaction is not null)
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> RecordFailureAsync(InboxFailure failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        await using var command = _dataSource.CreateCommand(failure.Owner is null ? _commands.FailFirst : _commands.FailRetry);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = failure.MessageId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = failure.Consumer });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = failure.Attempt });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = failure.At });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = failure.Error });
        command.Parameters.Add(new NpgsqlParameter { Value = failure.NextAttemptAt is { } next ? next : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        if (failure.Owner is null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = failure.Topic });
            command.Parameters.Add(Nullable(failure.Key));
            command.Parameters.Add(Nullable(failure.Type));
            command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = failure.Payload.ToArray() });
            command.Parameters.Add(new NpgsqlParameter
            {
                Value = failure.Headers.Count == 0 ? DBNull.Value : JsonSerializer.Serialize(failure.Headers),
                NpgsqlDbType = NpgsqlDbType.Jsonb,
            });
        }
        else
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = failure.Owner });
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<InboxRetry>> ClaimRetriesAsync(RetryClaimRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var command = _dataSource.CreateCommand(_commands.Claim);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. request.Consumers] });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = request.Owner });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = request.Limit });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = request.Now });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = request.LeaseUntil });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. request.OrderedConsumers] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. request.DeadBlockingConsumers] });
        var result = new List<InboxRetry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new InboxRetry(
                MessageId: reader.GetGuid(0),
                Consumer: reader.GetString(1),
                Topic: reader.GetString(2),
                Key: reader.IsDBNull(3) ? null : reader.GetString(3),
                Type: reader.IsDBNull(4) ? null : reader.GetString(4),
                Payload: reader.IsDBNull(5) ? ReadOnlyMemory<byte>.Empty : reader.GetFieldValue<byte[]>(5),
                Headers: HeaderSerializer.Deserialize(reader.IsDBNull(6) ? null : reader.GetString(6)),
                Attempts: reader.GetInt32(7)));
        }

        return result;
    }

    /// <inheritdoc />
    public async Task ReleaseRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(_commands.Release);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = messageId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeProcessedAsync(DateTimeOffset processedBefore, int batchSize, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(_commands.Purge);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = processedBefore });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<InboxEntry?> GetAsync(string consumer, Guid messageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        await using var command = _dataSource.CreateCommand(_commands.Get);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = messageId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        var rows = await ReadEntriesAsync(command, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<InboxEntry>> ListDeadAsync(string? consumer, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var command = _dataSource.CreateCommand(consumer is null ? _commands.DeadAll : _commands.DeadOfConsumer);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        if (consumer is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        }

        return await ReadEntriesAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> ReplayDeadAsync(string consumer, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return 0;
        }

        await using var command = _dataSource.CreateCommand(_commands.Replay);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids] });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _timeProvider.GetUtcNow() });
        var replayed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        InboxLog.Replayed(_logger, replayed, ids.Count, consumer);
        return replayed;
    }

    private static NpgsqlParameter Nullable(string? value) =>
        new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    private static async Task<List<InboxEntry>> ReadEntriesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var result = new List<InboxEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new InboxEntry(
                MessageId: reader.GetGuid(0),
                Consumer: reader.GetString(1),
                Topic: reader.GetString(2),
                Type: reader.IsDBNull(3) ? null : reader.GetString(3),
                State: (InboxState)reader.GetInt16(4),
                Attempts: reader.GetInt32(5),
                Errors: InboxErrorSerializer.Parse(reader.GetString(6)),
                ReceivedAt: reader.GetFieldValue<DateTimeOffset>(7),
                ProcessedAt: reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                NextAttemptAt: reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
                DeadAt: reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                Replays: reader.GetInt32(11)));
        }

        return result;
    }
}
