using System.Data.Common;
using Microsoft.Data.Sqlite;
using Postbox.Consumers;
using Postbox.Sqlite;
using Postbox.Sqlite.Consumers;

namespace Postbox.IntegrationTests.Store;

public sealed class SqliteInboxConformanceTests : InboxStoreConformanceTests, IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"postbox-inbox-test-{Guid.NewGuid():N}.db");
    private SqliteOptions _options = null!;
    private SqliteInboxStore _store = null!;

    protected override IInboxStore Store => _store;

    protected override IInboxAdmin Admin => _store;

    public async Task InitializeAsync()
    {
        _options = new SqliteOptions { ConnectionString = $"Data Source={_path}" };
        await new SqliteMigrator(_options).MigrateAsync();
        await using var connection = new SqliteConnection(_options.ConnectionString);
        await connection.OpenAsync();
        await using var create = new SqliteCommand("CREATE TABLE effects (id TEXT PRIMARY KEY)", connection);
        await create.ExecuteNonQueryAsync();
        _store = new SqliteInboxStore(_options);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }

    protected override async Task WriteEffectAsync(DbTransaction transaction, Guid id)
    {
        var sqlite = (SqliteTransaction)transaction;
        await using var command = new SqliteCommand("INSERT INTO effects VALUES ($id)", sqlite.Connection, sqlite);
        command.Parameters.AddWithValue("$id", id.ToString("D"));
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task<long> CountEffectsAsync()
    {
        await using var connection = new SqliteConnection(_options.ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqliteCommand("SELECT count(*) FROM effects", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
