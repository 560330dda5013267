using Npgsql;
using Postbox.PostgreSql;

namespace Postbox.Kafka.Tests.Infrastructure;

/// <summary>A fresh, migrated schema per test (outbox and inbox) with an <c>effects</c> table without a unique key, so a double effect shows; dropped afterwards.</summary>
public sealed class TestDatabase : IAsyncLifetime
{
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    public string Schema { get; } = "k_" + Guid.NewGuid().ToString("N")[..12];

    public NpgsqlDataSource DataSource { get; } = NpgsqlDataSource.Create(ConnectionString);

    public async Task InitializeAsync()
    {
        await new PostgreSqlMigrator(DataSource, new PostgreSqlOptions { Schema = Schema }).MigrateAsync();
        await ExecuteAsync("CREATE TABLE {schema}.effects (message_id uuid NOT NULL, body text NOT NULL)");
    }

    public async Task DisposeAsync()
    {
        await ExecuteAsync("DROP SCHEMA IF EXISTS {schema} CASCADE");
        await DataSource.DisposeAsync();
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", $"\"{Schema}\"", StringComparison.Ordinal));
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", $"\"{Schema}\"", StringComparison.Ordinal));
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Enqueues <paramref name="messages"/> in one committed transaction, as an application would.</summary>
    public async Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await new PostgreSqlOutboxWriter(new PostgreSqlOptions { Schema = Schema }).WriteAsync(transaction, messages, DateTimeOffset.UtcNow, CancellationToken.None);
        await transaction.CommitAsync();
    }

    public Task<long> EffectsAsync() => ScalarAsync<long>("SELECT count(*) FROM {schema}.effects");

    public Task<long> DistinctEffectsAsync() => ScalarAsync<long>("SELECT count(DISTINCT message_id) FROM {schema}.effects");
}
