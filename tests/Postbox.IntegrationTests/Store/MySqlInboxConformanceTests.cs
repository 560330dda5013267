using System.Data.Common;
using MySqlConnector;
using Postbox.Consumers;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.MySql.Consumers;

namespace Postbox.IntegrationTests.Store;

public sealed class MySqlInboxConformanceTests : InboxStoreConformanceTests, IAsyncLifetime
{
    private readonly MySqlDatabase _database = new();
    private MySqlInboxStore _store = null!;

    protected override IInboxStore Store => _store;

    protected override IInboxAdmin Admin => _store;

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        await _database.ExecuteAsync("CREATE TABLE effects (id BINARY(16) PRIMARY KEY)");
        _store = new MySqlInboxStore(_database.DataSource, _database.Options, TimeProvider.System, null);
    }

    public Task DisposeAsync() => _database.DisposeAsync();

    protected override async Task WriteEffectAsync(DbTransaction transaction, Guid id)
    {
        var mysql = (MySqlTransaction)transaction;
        await using var command = new MySqlCommand("INSERT INTO effects VALUES (@id)", mysql.Connection, mysql);
        command.Parameters.AddWithValue("@id", id);
        await command.ExecuteNonQueryAsync();
    }

    protected override Task<long> CountEffectsAsync() => _database.ScalarAsync<long>("SELECT count(*) FROM effects");
}
