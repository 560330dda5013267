using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Postbox.Hosting;
using Postbox.Sqlite;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

public sealed class SqliteStoreConformanceTests : OutboxStoreConformanceTests, IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"postbox-test-{Guid.NewGuid():N}.db");
    private SqliteOptions _options = null!;

    protected override IOutboxStore Store => new SqliteOutboxStore(_options);

    protected override IOutboxMonitor Monitor => new SqliteOutboxMonitor(_options);

    protected override Postbox.Monitoring.IPostboxPauses Pauses => new Postbox.Sqlite.Monitoring.SqlitePostboxPauses(_options);

    public async Task InitializeAsync()
    {
        _options = new SqliteOptions { ConnectionString = $"Data Source={_path}" };
        Assert.Equal(SqliteMigrator.Migrations.Select(m => m.Version), await new SqliteMigrator(_options).MigrateAsync());
        Assert.Empty(await new SqliteMigrator(_options).MigrateAsync());
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

    protected override async Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now)
    {
        await using var connection = new SqliteConnection(_options.ConnectionString);
        await connection.OpenAsync();
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        await new SqliteOutboxWriter(_options).WriteAsync(transaction, messages, now, CancellationToken.None);
        await transaction.CommitAsync();
    }

    protected override async Task<(int State, int Attempts, string? LastError)?> GetRowAsync(Guid id)
    {
        await using var connection = new SqliteConnection(_options.ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqliteCommand("SELECT state, attempts, last_error FROM postbox_outbox WHERE id = $id", connection);
        command.Parameters.AddWithValue("$id", id.ToString("D"));
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt32(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2)) : null;
    }

    protected override void UseStore(PostboxBuilder postbox) => postbox.UseSqlite(_options.ConnectionString!);

    protected override async Task<DbConnection> OpenConnectionAsync()
    {
        var connection = new SqliteConnection(_options.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    protected override string BusinessTable => "business";

    protected override async Task<long> CountAsync()
    {
        await using var connection = new SqliteConnection(_options.ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqliteCommand("SELECT count(*) FROM postbox_outbox", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact(Skip = "SQLite has no cross-process wake-up source (no LISTEN/NOTIFY): a relay finds another process's messages by polling, and its own process's by the in-process signal.")]
    public override Task WakeupSource_AnEnqueueCommittedElsewhere_WakesAWaitingRelay() => Task.CompletedTask;
}
