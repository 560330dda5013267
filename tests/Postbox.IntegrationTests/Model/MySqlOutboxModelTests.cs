using MySqlConnector;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.MySql;
using Postbox.Storage;
using Xunit.Abstractions;

namespace Postbox.IntegrationTests.Model;

public sealed class MySqlOutboxModelTests(ITestOutputHelper output) : OutboxModelTests(output)
{
    protected override async Task<IModelStore> CreateStoreAsync()
    {
        var database = new MySqlDatabase();
        await database.InitializeAsync();
        return new Store(database);
    }

    private sealed class Store(MySqlDatabase database) : IModelStore
    {
        IOutboxStore IModelStore.Store => database.Store;

        public IOutboxMonitor Monitor => new MySqlOutboxMonitor(database.DataSource, database.Options);

        public bool SupportsOpenTransactions => true;

        public async Task<IOpenTransaction> BeginEnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now)
        {
            var connection = await database.DataSource.OpenConnectionAsync();
            var transaction = await connection.BeginTransactionAsync();
            await database.Writer.WriteAsync(transaction, messages, now, CancellationToken.None);
            return new Open(connection, transaction);
        }

        public ValueTask DisposeAsync() => new(database.DisposeAsync());
    }

    private sealed class Open(MySqlConnection connection, MySqlTransaction transaction) : IOpenTransaction
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
