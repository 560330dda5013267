using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;

namespace Postbox.IntegrationTests.Store;

public sealed class PostgreSqlMigratorTests : IAsyncLifetime
{
    private readonly string _schema = "m_" + Guid.NewGuid().ToString("N")[..12];
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await using (var drop = _dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await _dataSource.DisposeAsync();
    }

    [Fact]
    public async Task Migrate_Twice_AppliesEachVersionOnce()
    {
        var migrator = new PostgreSqlMigrator(_dataSource, new PostgreSqlOptions { Schema = _schema });

        var first = await migrator.MigrateAsync();
        var second = await migrator.MigrateAsync();

        Assert.Equal(PostgreSqlMigrator.Migrations.Select(m => m.Version), first);
        Assert.Empty(second);
    }

    [Fact]
    public async Task Migrate_FromFiveProcessesAtOnce_AppliesEachVersionExactlyOnce()
    {
        // Separate data sources stand in for separate processes: separate pools, separate sessions.
        var sources = Enumerable.Range(0, 5).Select(_ => NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(sources.Select(s => new PostgreSqlMigrator(s, new PostgreSqlOptions { Schema = _schema }).MigrateAsync()));

            Assert.Equal(PostgreSqlMigrator.Migrations.Select(m => m.Version), results.SelectMany(r => r).Order());
            await using var count = _dataSource.CreateCommand($"SELECT count(*) FROM \"{_schema}\".postbox_migrations");
            Assert.Equal((long)PostgreSqlMigrator.Migrations.Count, (long)(await count.ExecuteScalarAsync())!);
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }
    }

    [Fact]
    public void Migrator_RejectsAnInvalidSchemaName()
    {
        var error = Assert.Throws<ArgumentException>(() => new PostgreSqlMigrator(_dataSource, new PostgreSqlOptions { Schema = "Robert'); DROP TABLE students;--" }));
        Assert.Contains("Invalid Postbox schema name", error.Message, StringComparison.Ordinal);
    }
}
