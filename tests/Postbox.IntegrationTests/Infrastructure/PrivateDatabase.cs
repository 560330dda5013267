using Npgsql;

namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>
/// A database of the test's own on the test server, with a migrated Postbox schema, dropped afterwards: for tests that
/// count the database's transactions (<c>pg_stat_database</c>) or make it refuse connections.
/// </summary>
/// <param name="prefix">The start of its name (lower-case letters).</param>
public sealed class PrivateDatabase(string prefix) : IAsyncLifetime
{
    public string Name { get; } = prefix + "_" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The test server's usual database, from which this one is created, dropped and watched.</summary>
    public NpgsqlDataSource Server { get; } = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);

    public string ConnectionString => new NpgsqlConnectionStringBuilder(TestEnvironment.PostgresConnectionString) { Database = Name }.ConnectionString;

    public PostgresSchema Schema { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await using (var create = Server.CreateCommand($"CREATE DATABASE {Name}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        Schema = new PostgresSchema(ConnectionString);
        await Schema.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        if (Schema is not null)
        {
            await Schema.DataSource.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        await using (var drop = Server.CreateCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await Server.DisposeAsync();
    }
}
