using MySqlConnector;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.MySql;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

public sealed class MySqlMigratorConformanceTests : MigratorConformanceTests, IAsyncLifetime
{
    private readonly MySqlDatabase _database = new(migrate: false);
    private readonly List<MySqlDataSource> _processes = [];

    // A data source of its own per migrator: separate pools, separate sessions, as in separate processes.
    protected override IPostboxMigrator CreateMigrator()
    {
        var source = new MySqlDataSource(_database.ConnectionString);
        _processes.Add(source);
        return new MySqlMigrator(source, _database.Options);
    }

    protected override IReadOnlyList<int> Versions => [.. MySqlMigrator.Migrations.Select(m => m.Version)];

    protected override Task<long> CountBookkeepingAsync() => _database.ScalarAsync<long>("SELECT count(*) FROM postbox_migrations");

    public Task InitializeAsync() => _database.InitializeAsync();

    public async Task DisposeAsync()
    {
        foreach (var source in _processes)
        {
            await source.DisposeAsync();
        }

        await _database.DisposeAsync();
    }
}
