using System.Data.Common;
using Npgsql;
using Postbox.Consumers;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql.Consumers;

namespace Postbox.IntegrationTests.Store;

public sealed class PostgreSqlInboxConformanceTests : InboxStoreConformanceTests, IAsyncLifetime
{
    private readonly PostgresSchema _schema = new();
    private PostgreSqlInboxStore _store = null!;

    protected override IInboxStore Store => _store;

    protected override IInboxAdmin Admin => _store;

    public async Task InitializeAsync()
    {
        await _schema.InitializeAsync();
        await _schema.ExecuteAsync("CREATE TABLE {schema}.effects (id uuid PRIMARY KEY)");
        _store = new PostgreSqlInboxStore(_schema.DataSource, _schema.Options, TimeProvider.System, null);
    }

    public Task DisposeAsync() => _schema.DisposeAsync();

    protected override async Task WriteEffectAsync(DbTransaction transaction, Guid id)
    {
        var npgsql = (NpgsqlTransaction)transaction;
        await using var command = new NpgsqlCommand($"INSERT INTO \"{_schema.Name}\".effects VALUES ($1)", npgsql.Connection, npgsql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await command.ExecuteNonQueryAsync();
    }

    protected override Task<long> CountEffectsAsync() => _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.effects");
}
