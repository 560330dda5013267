using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Postbox.Hosting;
using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

public sealed class PostgreSqlStoreConformanceTests : OutboxStoreConformanceTests, IAsyncLifetime
{
    private readonly PostgresSchema _schema = new();

    protected override IOutboxStore Store => _schema.Store;

    protected override IOutboxMonitor Monitor => new Postbox.PostgreSql.PostgreSqlOutboxMonitor(_schema.DataSource, _schema.Options);

    protected override Postbox.Monitoring.IPostboxPauses Pauses => new Postbox.PostgreSql.Monitoring.PostgreSqlPostboxPauses(_schema.DataSource, _schema.Options);

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

    protected override Task WaitUntilListeningAsync() => Eventually.HoldsAsync(
        async () => await _schema.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN \"postbox.{_schema.Name}\"'") == 1,
        TimeSpan.FromSeconds(30), "the wake-up source listens");

    // PostgreSqlOutbox puts the insert into the caller's own batch: the same rules, checked before that batch runs.
    [Fact]
    public async Task BatchEnqueue_RefusesBeforeTheBatchRuns_SkipsAnIdAlreadyStored_AndTheCallersTransactionCommits()
    {
        var stored = new OutboxMessage("orders", "first"u8.ToArray());
        await EnqueueAsync([stored], T0);
        var nul = new OutboxMessage("orders", new byte[1]);
        nul.Headers["x-h"] = "a\0b";
        var fresh = new OutboxMessage("orders", new byte[1]) { AvailableAt = T0.ToOffset(TimeSpan.FromHours(9)) };
        await using var provider = CreatePostbox();
        var outbox = provider.GetRequiredService<PostgreSqlOutbox>();

        await using (var connection = (NpgsqlConnection)await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.Contains("NUL", Assert.Throws<ArgumentException>(() => outbox.CreateEnqueueCommands([nul])).Message, StringComparison.Ordinal);
            Assert.Contains("#0 and #1", Assert.Throws<ArgumentException>(() =>
                outbox.CreateEnqueueCommands([fresh, new OutboxMessage("orders", new byte[1]) { Id = fresh.Id }])).Message, StringComparison.Ordinal);

            await using var batch = new NpgsqlBatch(connection, transaction);
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"INSERT INTO {BusinessTable} (id) VALUES ('b')"));
            var commands = outbox.CreateEnqueueCommands([new OutboxMessage("elsewhere", "second"u8.ToArray()) { Id = stored.Id }, fresh]);
            foreach (var command in commands)
            {
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync();
            Assert.Equal(1, commands[0].RecordsAffected);
            await transaction.CommitAsync();
        }

        Assert.Equal(["b"], await BusinessRowsAsync());
        Assert.Equal(2, await CountAsync());
    }
}
