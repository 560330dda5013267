using MySqlConnector;
using Postbox.MySql;

namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>A fresh, migrated database per test on the MariaDB/MySQL server, dropped afterwards, so tests run in
/// parallel and leave nothing behind.</summary>
public sealed class MySqlDatabase : IAsyncLifetime
{
    public MySqlDatabase(bool migrate = true)
    {
        Migrate = migrate;
        ConnectionString = new MySqlConnectionStringBuilder(TestEnvironment.MySqlServerConnectionString) { Database = Name }.ConnectionString;
        DataSource = new MySqlDataSource(ConnectionString);
    }

    public string Name { get; } = "pbt_" + Guid.NewGuid().ToString("N")[..16];

    public string ConnectionString { get; }

    public MySqlDataSource DataSource { get; }

    public MySqlOptions Options => new() { ConnectionString = ConnectionString };

    internal MySqlOutboxStore Store => new(DataSource, Options);

    internal MySqlOutboxWriter Writer => new(Options);

    private bool Migrate { get; }

    public async Task InitializeAsync()
    {
        await using (var server = new MySqlConnection(TestEnvironment.MySqlServerConnectionString))
        {
            await server.OpenAsync();
            await using var create = new MySqlCommand($"CREATE DATABASE `{Name}` CHARACTER SET utf8mb4", server);
            await create.ExecuteNonQueryAsync();
        }

        if (Migrate)
        {
            await new MySqlMigrator(DataSource, Options).MigrateAsync();
        }
    }

    public async Task DisposeAsync()
    {
        await DataSource.DisposeAsync();
        MySqlConnection.ClearAllPools();
        await using var server = new MySqlConnection(TestEnvironment.MySqlServerConnectionString);
        await server.OpenAsync();
        await using var drop = new MySqlCommand($"DROP DATABASE IF EXISTS `{Name}`", server);
        await drop.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand(sql, connection);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand(sql, connection);
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
}
