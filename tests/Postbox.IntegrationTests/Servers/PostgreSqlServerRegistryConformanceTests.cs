using Postbox.IntegrationTests.Infrastructure;
using Postbox.Monitoring;
using Postbox.PostgreSql.Monitoring;

namespace Postbox.IntegrationTests.Servers;

public sealed class PostgreSqlServerRegistryConformanceTests : ServerRegistryConformanceTests, IAsyncLifetime
{
    private readonly PostgresSchema _schema = new();

    protected override IServerRegistry NewRegistry() => new PostgreSqlServerRegistry(_schema.DataSource, _schema.Options);

    public Task InitializeAsync() => _schema.InitializeAsync();

    public Task DisposeAsync() => _schema.DisposeAsync();
}
