using MySqlConnector;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Monitoring;
using Postbox.MySql.Monitoring;

namespace Postbox.IntegrationTests.Servers;

public sealed class MySqlServerRegistryConformanceTests : ServerRegistryConformanceTests, IAsyncLifetime
{
    private readonly MySqlDatabase _database = new();

    // Its own data source each time: a separate process has its own pool.
    protected override IServerRegistry NewRegistry() => new MySqlServerRegistry(new MySqlDataSource(_database.ConnectionString), _database.Options);

    public Task InitializeAsync() => _database.InitializeAsync();

    public Task DisposeAsync() => _database.DisposeAsync();
}
