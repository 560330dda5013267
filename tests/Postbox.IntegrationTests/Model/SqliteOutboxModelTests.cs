using Microsoft.Data.Sqlite;
using Postbox.Sqlite;
using Postbox.Storage;
using Xunit.Abstractions;

namespace Postbox.IntegrationTests.Model;

public sealed class SqliteOutboxModelTests(ITestOutputHelper output) : OutboxModelTests(output)
{
    protected override async Task<IModelStore> CreateStoreAsync()
    {
        var path = Path.Combine(Path.GetTempPath(), $"postbox-model-{Guid.NewGuid():N}.db");
        var options = new SqliteOptions { ConnectionString = $"Data Source={path}" };
        await new SqliteMigrator(options).MigrateAsync();
        return new Store(path, options);
    }

    private sealed class Store(string path, SqliteOptions options) : IModelStore
    {
        IOutboxStore IModelStore.Store => new SqliteOutboxStore(options);

        public IOutboxMonitor Monitor => new SqliteOutboxMonitor(options);

        // SQLite has one writer at a time: a write transaction left open would block the relays' claims.
        public bool SupportsOpenTransactions => false;

        public async Task<IOpenTransaction> BeginEnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now)
        {
            var connection = new SqliteConnection(options.ConnectionString);
            await connection.OpenAsync();
            var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
            await new SqliteOutboxWriter(options).WriteAsync(transaction, messages, now, CancellationToken.None);
            return new Open(connection, transaction);
        }

        public ValueTask DisposeAsync()
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }

            return ValueTask.CompletedTask;
        }
    }

    private sealed class Open(SqliteConnection connection, SqliteTransaction transaction) : IOpenTransaction
    {
        public Task CommitAsync() => transaction.CommitAsync();

        public Task RollbackAsync() => transaction.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
