using MySqlConnector;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.MySql;

namespace Postbox.IntegrationTests.Store;

public sealed class MySqlMigratorTests : IAsyncLifetime
{
    private readonly MySqlDatabase _database = new(migrate: false);

    public Task InitializeAsync() => _database.InitializeAsync();

    public Task DisposeAsync() => _database.DisposeAsync();

    [Fact]
    public async Task Migrate_Twice_AppliesEachVersionOnce_AndRecordsThemInPostboxsOwnTable()
    {
        var migrator = new MySqlMigrator(_database.DataSource, _database.Options);

        var first = await migrator.MigrateAsync();
        var second = await migrator.MigrateAsync();

        Assert.Equal(MySqlMigrator.Migrations.Select(m => m.Version), first);
        Assert.Empty(second);
        Assert.Equal(MySqlMigrator.Migrations.Count, await _database.ScalarAsync<int>("SELECT count(*) FROM postbox_migrations"));
        Assert.Equal(0, await _database.ScalarAsync<int>(
            $"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{_database.Name}' AND table_name = 'schema_migrations'"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public async Task Migrate_AfterACrashBetweenTheDdlAndItsBookkeepingRow_CompletesInsteadOfFailing(int version)
    {
        var migrator = new MySqlMigrator(_database.DataSource, _database.Options);
        await migrator.MigrateAsync();
        // MySQL commits DDL implicitly: a crash can leave the tables without their bookkeeping row.
        await _database.ExecuteAsync($"DELETE FROM postbox_migrations WHERE version = {version}");

        Assert.Equal([version], await migrator.MigrateAsync());
    }

    [Fact]
    public void Migrator_RejectsAnInvalidTablePrefix()
    {
        var error = Assert.Throws<ArgumentException>(() => new MySqlMigrator(_database.DataSource, new MySqlOptions { TablePrefix = "x`; DROP TABLE students;--" }));
        Assert.Contains("Invalid Postbox table prefix", error.Message, StringComparison.Ordinal);
    }
}
