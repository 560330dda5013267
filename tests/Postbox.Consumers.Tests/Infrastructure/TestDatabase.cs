using Npgsql;
using Postbox.Consumers;
using Postbox.PostgreSql;
using Postbox.PostgreSql.Consumers;

namespace Postbox.Consumers.Tests.Infrastructure;

/// <summary>A fresh, migrated schema per test with an <c>effects</c> table (no unique key, so a double effect shows), dropped afterwards.</summary>
public sealed class TestDatabase : IAsyncLifetime
{
    public string Schema { get; } = "c_" + Guid.NewGuid().ToString("N")[..12];

    public NpgsqlDataSource DataSource { get; } = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);

    internal PostgreSqlInboxStore Inbox => new(DataSource, new PostgreSqlOptions { Schema = Schema });

    public async Task InitializeAsync()
    {
        await new PostgreSqlMigrator(DataSource, new PostgreSqlOptions { Schema = Schema }).MigrateAsync();
        await ExecuteAsync("CREATE TABLE {schema}.effects (message_id uuid NOT NULL, body text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())");
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

    public async Task<long> EffectsAsync(Guid? id = null)
    {
        await using var command = DataSource.CreateCommand(id is null
            ? $"SELECT count(*) FROM \"{Schema}\".effects"
            : $"SELECT count(*) FROM \"{Schema}\".effects WHERE message_id = $1");
        if (id is { } value)
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = value });
        }

        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task<long> DistinctEffectsAsync()
    {
        await using var command = DataSource.CreateCommand($"SELECT count(DISTINCT message_id) FROM \"{Schema}\".effects");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public Task<InboxEntry?> EntryAsync(Guid id, string consumer) => Inbox.GetAsync(consumer, id, CancellationToken.None);
}
