using Npgsql;
using Postbox.PostgreSql;

namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>A fresh, migrated Postbox schema per test, dropped afterwards, so tests run in parallel and leave nothing behind.</summary>
/// <param name="connectionString">The database; default the test server's usual one.</param>
public sealed class PostgresSchema(string? connectionString = null) : IAsyncLifetime
{
    public string Name { get; } = "t_" + Guid.NewGuid().ToString("N")[..12];

    public NpgsqlDataSource DataSource { get; } = NpgsqlDataSource.Create(connectionString ?? TestEnvironment.PostgresConnectionString);

    public PostgreSqlOptions Options => new() { Schema = Name };

    internal PostgreSqlOutboxStore Store => new(DataSource, Options);

    internal PostgreSqlOutboxWriter Writer => new(Options);

    public async Task InitializeAsync() => await new PostgreSqlMigrator(DataSource, Options).MigrateAsync();

    public async Task DisposeAsync()
    {
        await using (var drop = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{Name}\" CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await DataSource.DisposeAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", $"\"{Name}\"", StringComparison.Ordinal));
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", $"\"{Name}\"", StringComparison.Ordinal));
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Enqueues <paramref name="messages"/> in one committed transaction.</summary>
    public async Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset? now = null)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Writer.WriteAsync(transaction, messages, now ?? DateTimeOffset.UtcNow, CancellationToken.None);
        await transaction.CommitAsync();
    }

    public static OutboxMessage Message(string topic, string? key = null, int? maxAttempts = null, string body = "x") =>
        new(topic, System.Text.Encoding.UTF8.GetBytes(body)) { Key = key, MaxAttempts = maxAttempts, Type = "Test" };
}
