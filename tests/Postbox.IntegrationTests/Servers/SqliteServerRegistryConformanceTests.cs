using Microsoft.Data.Sqlite;
using Postbox.Monitoring;
using Postbox.Sqlite;
using Postbox.Sqlite.Monitoring;

namespace Postbox.IntegrationTests.Servers;

public sealed class SqliteServerRegistryConformanceTests : ServerRegistryConformanceTests, IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"postbox-servers-test-{Guid.NewGuid():N}.db");
    private readonly SqliteOptions _options;

    public SqliteServerRegistryConformanceTests() => _options = new SqliteOptions { ConnectionString = $"Data Source={_path}" };

    protected override IServerRegistry NewRegistry() => new SqliteServerRegistry(_options);

    public async Task InitializeAsync() => await new SqliteMigrator(_options).MigrateAsync();

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }
}
