using Microsoft.Data.Sqlite;
using Postbox.Monitoring;
using Postbox.Sqlite;
using Postbox.Sqlite.Monitoring;

namespace Postbox.IntegrationTests.Monitoring;

public sealed class SqliteMonitorConformanceTests : PostboxMonitorConformanceTests, IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"postbox-monitor-test-{Guid.NewGuid():N}.db");
    private readonly SqliteOptions _options;

    public SqliteMonitorConformanceTests() => _options = new SqliteOptions { ConnectionString = $"Data Source={_path}" };

    protected override IPostboxMonitor Monitor => new SqlitePostboxMonitor(_options);

    public async Task InitializeAsync()
    {
        await new SqliteMigrator(_options).MigrateAsync();
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        var connection = new SqliteConnection(_options.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static long Now => DateTimeOffset.UtcNow.UtcTicks;

    protected override async Task SeedOutboxAsync(Guid id, int state, string topic, string? key, string? lastError)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqliteCommand("""
            INSERT INTO postbox_outbox (id, state, topic, key, payload, headers, created_at, available_at, attempts, last_error, last_attempt_at, lease_owner, delivered_at)
            VALUES ($id, $state, $topic, $key, CAST('{"n":1}' AS BLOB), '{"tenant":"acme"}', $now, CASE WHEN $state = 4 THEN $later ELSE $now END, 1, $error,
                    CASE WHEN $error IS NULL THEN NULL ELSE $now END, CASE WHEN $state = 3 THEN 'relay-1' END, CASE WHEN $state = 1 THEN $now END)
            """, connection);
        command.Parameters.AddWithValue("$id", id.ToString("D"));
        command.Parameters.AddWithValue("$state", state);
        command.Parameters.AddWithValue("$topic", topic);
        command.Parameters.AddWithValue("$key", (object?)key ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)lastError ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", Now);
        command.Parameters.AddWithValue("$later", Now + TimeSpan.TicksPerHour);
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task SeedInboxAsync(Guid id, string consumer, int state, string topic, bool leased, int errors)
    {
        var history = "[" + string.Join(",", Enumerable.Range(1, errors).Select(i =>
            $$"""{"attempt":{{i}},"at":"{{DateTimeOffset.UtcNow:O}}","error":"error {{i}}"}""")) + "]";
        await using var connection = await OpenAsync();
        await using var command = new SqliteCommand("""
            INSERT INTO postbox_inbox (message_id, consumer, state, topic, payload, attempts, errors, received_at, processed_at, next_attempt_at, lease_owner, dead_at)
            VALUES ($id, $consumer, $state, $topic, CASE WHEN $state = 1 THEN NULL ELSE CAST('{"n":1}' AS BLOB) END, max($errors, 1), $history, $now,
                    CASE WHEN $state = 1 THEN $now END, CASE WHEN $state = 2 THEN $due END, CASE WHEN $leased THEN 'worker-1' END, CASE WHEN $state = 3 THEN $now END)
            """, connection);
        command.Parameters.AddWithValue("$id", id.ToString("D"));
        command.Parameters.AddWithValue("$consumer", consumer);
        command.Parameters.AddWithValue("$state", state);
        command.Parameters.AddWithValue("$topic", topic);
        command.Parameters.AddWithValue("$errors", errors);
        command.Parameters.AddWithValue("$history", history);
        command.Parameters.AddWithValue("$leased", leased);
        command.Parameters.AddWithValue("$now", Now);
        command.Parameters.AddWithValue("$due", new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks);
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task KillReadyAgainAsync(string topic)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqliteCommand("UPDATE postbox_outbox SET state = 2, last_attempt_at = $later WHERE state = 0 AND topic = $topic", connection);
        command.Parameters.AddWithValue("$later", Now + TimeSpan.TicksPerHour);
        command.Parameters.AddWithValue("$topic", topic);
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<int?> OutboxStateAsync(Guid id)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqliteCommand("SELECT state FROM postbox_outbox WHERE id = $id", connection);
        command.Parameters.AddWithValue("$id", id.ToString("D"));
        return await command.ExecuteScalarAsync() is long state ? (int)state : null;
    }

    protected override async Task<int?> InboxStateAsync(Guid id, string consumer)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqliteCommand("SELECT state FROM postbox_inbox WHERE message_id = $id AND consumer = $consumer", connection);
        command.Parameters.AddWithValue("$id", id.ToString("D"));
        command.Parameters.AddWithValue("$consumer", consumer);
        return await command.ExecuteScalarAsync() is long state ? (int)state : null;
    }
}
