using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Monitoring;
using Postbox.PostgreSql.Monitoring;

namespace Postbox.IntegrationTests.Monitoring;

public sealed class PostgreSqlMonitorConformanceTests : PostboxMonitorConformanceTests, IAsyncLifetime
{
    private readonly PostgresSchema _schema = new();

    protected override IPostboxMonitor Monitor => new PostgreSqlPostboxMonitor(_schema.DataSource, _schema.Options);

    public Task InitializeAsync() => _schema.InitializeAsync();

    public Task DisposeAsync() => _schema.DisposeAsync();

    protected override async Task SeedOutboxAsync(Guid id, int state, string topic, string? key, string? lastError)
    {
        await using var command = _schema.DataSource.CreateCommand($"""
            INSERT INTO "{_schema.Name}".outbox (id, state, topic, key, payload, headers, created_at, available_at, attempts, last_error, last_attempt_at,
                                               lease_owner, delivered_at)
            VALUES ($1, $2, $3, $4, '{"{"}"n":1{"}"}'::bytea, '{"{"}"tenant":"acme"{"}"}'::jsonb, now(),
                    CASE WHEN $2 = 4 THEN now() + interval '1 hour' ELSE now() END, 1, $5, CASE WHEN $5 IS NULL THEN NULL ELSE now() END,
                    CASE WHEN $2 = 3 THEN 'relay-1' END, CASE WHEN $2 = 1 THEN now() END)
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)state });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)key ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)lastError ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task SeedInboxAsync(Guid id, string consumer, int state, string topic, bool leased, int errors)
    {
        await using var command = _schema.DataSource.CreateCommand($"""
            INSERT INTO "{_schema.Name}".inbox (message_id, consumer, state, topic, payload, attempts, errors, received_at, processed_at, next_attempt_at, lease_owner, dead_at)
            VALUES ($1, $2, $3, $4, CASE WHEN $3 = 1 THEN NULL ELSE '{"{"}"n":1{"}"}'::bytea END, greatest($6, 1),
                    (SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', g, 'at', now(), 'error', 'error ' || g) ORDER BY g), '[]') FROM generate_series(1, $6) g),
                    now(), CASE WHEN $3 = 1 THEN now() END, CASE WHEN $3 = 2 THEN timestamptz '2030-01-01' END,
                    CASE WHEN $5 THEN 'worker-1' END, CASE WHEN $3 = 3 THEN now() END)
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        command.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)state });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = leased });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = errors });
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task KillReadyAgainAsync(string topic)
    {
        await using var command = _schema.DataSource.CreateCommand(
            $"UPDATE \"{_schema.Name}\".outbox SET state = 2, last_attempt_at = now() + interval '1 hour' WHERE state = 0 AND topic = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<int?> OutboxStateAsync(Guid id)
    {
        await using var command = _schema.DataSource.CreateCommand($"SELECT state FROM \"{_schema.Name}\".outbox WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        return await command.ExecuteScalarAsync() is short state ? state : null;
    }

    protected override async Task<int?> InboxStateAsync(Guid id, string consumer)
    {
        await using var command = _schema.DataSource.CreateCommand($"SELECT state FROM \"{_schema.Name}\".inbox WHERE message_id = $1 AND consumer = $2");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumer });
        return await command.ExecuteScalarAsync() is short state ? state : null;
    }
}
