using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Postbox.Hosting;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

public sealed class PostgreSqlStoreConformanceTests : OutboxStoreConformanceTests, IAsyncLifetime
{
    private readonly PostgresSchema _schema = new();

    protected override IOutboxStore Store => _schema.Store;

    protected override IOutboxMonitor Monitor => new Postbox.PostgreSql.PostgreSqlOutboxMonitor(_schema.DataSource, _schema.Options);

    public Task InitializeAsync() => _schema.InitializeAsync();

    public Task DisposeAsync() => _schema.DisposeAsync();

    protected override Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now) => _schema.EnqueueAsync(messages, now);

    protected override async Task<(int State, int Attempts, string? LastError)?> GetRowAsync(Guid id)
    {
        await using var command = _schema.DataSource.CreateCommand($"SELECT state, attempts, last_error FROM \"{_schema.Name}\".outbox WHERE id = $1");
        command.Parameters.Add(new Npgsql.NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt16(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2)) : null;
    }

    protected override Task<long> CountAsync() => _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox");

    protected override void UseStore(PostboxBuilder postbox) => postbox.UsePostgreSql(_schema.DataSource, o => o.Schema = _schema.Name);

    protected override async Task<DbConnection> OpenConnectionAsync() => await _schema.DataSource.OpenConnectionAsync();

    protected override string BusinessTable => $"\"{_schema.Name}\".business";
}
