using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Postbox.Hosting;
using Postbox.Storage;

namespace Postbox.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>
/// One Postbox store and the EF provider for the same database, private to a test: a PostgreSQL schema (the context's
/// tables in it through the search path) or a temporary SQLite file. Migrated, with the shop's tables created.
/// </summary>
public abstract class TestStore : IAsyncDisposable
{
    /// <summary>Registers the Postbox store (and its inbox).</summary>
    public abstract void UseStore(PostboxBuilder builder);

    /// <summary>Configures the EF provider for the same database.</summary>
    public abstract void UseProvider(DbContextOptionsBuilder options);

    /// <summary>The outbox table's name as written in SQL.</summary>
    public abstract string OutboxTable { get; }

    protected abstract DbConnection NewConnection();

    public ShopContext NewContext(bool postbox = true)
    {
        var options = new DbContextOptionsBuilder<ShopContext>();
        UseProvider(options);
        if (postbox)
        {
            options.UsePostbox();
        }

        return new ShopContext(options.Options);
    }

    /// <summary>Applies the Postbox migrations and creates the shop's tables.</summary>
    public async Task InitializeAsync()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        UseStore(services.AddPostbox(o => o.Relay.Enabled = false));
        await using (var provider = services.BuildServiceProvider())
        {
            await provider.GetRequiredService<IPostboxMigrator>().MigrateAsync();
        }

        await using var context = NewContext();
        await context.GetService<IRelationalDatabaseCreator>().CreateTablesAsync();
    }

    public async Task<long> CountAsync(string table)
    {
        await using var connection = NewConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task<long> MessagesAsync() => CountAsync(OutboxTable);

    public Task<long> OrdersAsync() => CountAsync("orders");

    public Task<long> EffectsAsync() => CountAsync("effects");

    public abstract ValueTask DisposeAsync();
}

public sealed class PostgreSqlTestStore : TestStore
{
    public string Schema { get; } = "ef_" + Guid.NewGuid().ToString("N")[..12];

    public string ConnectionString => new NpgsqlConnectionStringBuilder(TestEnvironment.PostgresConnectionString) { SearchPath = Schema }.ConnectionString;

    public override string OutboxTable => $"\"{Schema}\".outbox";

    public override void UseStore(PostboxBuilder builder) =>
        // The same connection string as the context: a handler's context runs on the inbox's connection, whose search
        // path must find the context's unqualified tables.
        builder.UsePostgreSql(ConnectionString, o => { o.Schema = Schema; o.ListenForNotifications = false; }).UsePostgreSqlInbox();

    public override void UseProvider(DbContextOptionsBuilder options) => options.UseNpgsql(ConnectionString);

    protected override DbConnection NewConnection() => new NpgsqlConnection(ConnectionString);

    public override async ValueTask DisposeAsync()
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{Schema}\" CASCADE", connection);
        await command.ExecuteNonQueryAsync();
    }
}

public sealed class SqliteTestStore : TestStore
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"postbox-ef-{Guid.NewGuid():N}.db");

    public string ConnectionString => $"Data Source={_path}";

    public override string OutboxTable => "postbox_outbox";

    public override void UseStore(PostboxBuilder builder) => builder.UseSqlite(ConnectionString);

    public override void UseProvider(DbContextOptionsBuilder options) => options.UseSqlite(ConnectionString);

    protected override DbConnection NewConnection() => new SqliteConnection(ConnectionString);

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm", _path + "-journal" })
        {
            File.Delete(file);
        }

        return ValueTask.CompletedTask;
    }
}
