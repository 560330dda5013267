using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

public sealed class PostgreSqlMigratorConformanceTests : MigratorConformanceTests, IAsyncLifetime
{
    private readonly string _schema = "m_" + Guid.NewGuid().ToString("N")[..12];
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);
    private readonly List<NpgsqlDataSource> _processes = [];

    // A data source of its own per migrator: separate pools, separate sessions, as in separate processes.
    protected override IPostboxMigrator CreateMigrator()
    {
        var source = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);
        _processes.Add(source);
        return new PostgreSqlMigrator(source, new PostgreSqlOptions { Schema = _schema });
    }

    protected override IReadOnlyList<int> Versions => [.. PostgreSqlMigrator.Migrations.Select(m => m.Version)];

    protected override async Task<long> CountBookkeepingAsync()
    {
        await using var count = _dataSource.CreateCommand($"SELECT count(*) FROM \"{_schema}\".{PostgreSqlMigrator.BookkeepingTable}");
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var source in _processes)
        {
            await source.DisposeAsync();
        }

        await using (var drop = _dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await _dataSource.DisposeAsync();
    }
}
