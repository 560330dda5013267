using Microsoft.Data.Sqlite;
using Postbox.Sqlite;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

public sealed class SqliteMigratorConformanceTests : MigratorConformanceTests, IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"postbox-mig-{Guid.NewGuid():N}.db");

    private string ConnectionString => $"Data Source={_path}";

    // SQLite runs in-process: each migrator opens its own connections to the same file.
    protected override IPostboxMigrator CreateMigrator() => new SqliteMigrator(new SqliteOptions { ConnectionString = ConnectionString });

    protected override IReadOnlyList<int> Versions => [.. SqliteMigrator.Migrations.Select(m => m.Version)];

    protected override async Task<long> CountBookkeepingAsync()
    {
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqliteCommand("SELECT count(*) FROM postbox_migrations", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
