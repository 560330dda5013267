using MySqlConnector;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Monitoring;
using Postbox.MySql;
using Postbox.MySql.Monitoring;

namespace Postbox.IntegrationTests.Monitoring;

public sealed class MySqlMonitorConformanceTests : PostboxMonitorConformanceTests, IAsyncLifetime
{
    private readonly MySqlDatabase _database = new();

    protected override IPostboxMonitor Monitor => new MySqlPostboxMonitor(_database.DataSource, _database.Options);

    public Task InitializeAsync() => _database.InitializeAsync();

    public Task DisposeAsync() => _database.DisposeAsync();

    private static DateTime Now => MySqlValues.ToDb(DateTimeOffset.UtcNow);

    protected override async Task SeedOutboxAsync(Guid id, int state, string topic, string? key, string? lastError)
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand("""
            INSERT INTO postbox_outbox (id, state, topic, `key`, payload, headers, created_at, available_at, attempts, last_error, last_attempt_at, lease_owner, delivered_at)
            VALUES (@id, @state, @topic, @key, '{"n":1}', '{"tenant":"acme"}', @now, IF(@state = 4, @later, @now), 1, @error,
                    IF(@error IS NULL, NULL, @now), IF(@state = 3, 'relay-1', NULL), IF(@state = 1, @now, NULL))
            """, connection);
        command.Parameters.AddWithValue("@id", MySqlValues.ToDb(id));
        command.Parameters.AddWithValue("@state", state);
        command.Parameters.AddWithValue("@topic", topic);
        command.Parameters.AddWithValue("@key", key);
        command.Parameters.AddWithValue("@error", lastError);
        command.Parameters.AddWithValue("@now", Now);
        command.Parameters.AddWithValue("@later", Now.AddHours(1));
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task SeedInboxAsync(Guid id, string consumer, int state, string topic, bool leased, int errors)
    {
        var history = "[" + string.Join(",", Enumerable.Range(1, errors).Select(i =>
            $$"""{"attempt":{{i}},"at":"{{DateTimeOffset.UtcNow:O}}","error":"error {{i}}"}""")) + "]";
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand("""
            INSERT INTO postbox_inbox (message_id, consumer, state, topic, payload, attempts, errors, received_at, processed_at, next_attempt_at, lease_owner, dead_at)
            VALUES (@id, @consumer, @state, @topic, IF(@state = 1, NULL, '{"n":1}'), GREATEST(@errors, 1), @history, @now,
                    IF(@state = 1, @now, NULL), IF(@state = 2, @due, NULL), IF(@leased, 'worker-1', NULL), IF(@state = 3, @now, NULL))
            """, connection);
        command.Parameters.AddWithValue("@id", MySqlValues.ToDb(id));
        command.Parameters.AddWithValue("@consumer", consumer);
        command.Parameters.AddWithValue("@state", state);
        command.Parameters.AddWithValue("@topic", topic);
        command.Parameters.AddWithValue("@errors", errors);
        command.Parameters.AddWithValue("@history", history);
        command.Parameters.AddWithValue("@leased", leased);
        command.Parameters.AddWithValue("@now", Now);
        command.Parameters.AddWithValue("@due", new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task KillReadyAgainAsync(string topic)
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand("UPDATE postbox_outbox SET state = 2, last_attempt_at = @later WHERE state = 0 AND topic = @topic", connection);
        command.Parameters.AddWithValue("@later", Now.AddHours(1));
        command.Parameters.AddWithValue("@topic", topic);
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<int?> OutboxStateAsync(Guid id)
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand("SELECT state FROM postbox_outbox WHERE id = @id", connection);
        command.Parameters.AddWithValue("@id", MySqlValues.ToDb(id));
        return await command.ExecuteScalarAsync() is { } state and not DBNull ? Convert.ToInt32(state, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    protected override async Task<int?> InboxStateAsync(Guid id, string consumer)
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand("SELECT state FROM postbox_inbox WHERE message_id = @id AND consumer = @consumer", connection);
        command.Parameters.AddWithValue("@id", MySqlValues.ToDb(id));
        command.Parameters.AddWithValue("@consumer", consumer);
        return await command.ExecuteScalarAsync() is { } state and not DBNull ? Convert.ToInt32(state, System.Globalization.CultureInfo.InvariantCulture) : null;
    }
}
