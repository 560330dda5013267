using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;
using Postbox.Storage;
using Xunit.Abstractions;

namespace Postbox.IntegrationTests.Model;

public sealed class PostgreSqlOutboxModelTests(ITestOutputHelper output) : OutboxModelTests(output)
{
    protected override async Task<IModelStore> CreateStoreAsync()
    {
        var schema = new PostgresSchema();
        await schema.InitializeAsync();
        return new Store(schema);
    }

    private sealed class Store(PostgresSchema schema) : IModelStore
    {
        IOutboxStore IModelStore.Store => schema.Store;

        public IOutboxMonitor Monitor => new PostgreSqlOutboxMonitor(schema.DataSource, schema.Options);

        public bool SupportsOpenTransactions => true;

        public async Task<IOpenTransaction> BeginEnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now)
        {
            var connection = await schema.DataSource.OpenConnectionAsync();
            var transaction = await connection.BeginTransactionAsync();
            await schema.Writer.WriteAsync(transaction, messages, now, CancellationToken.None);
            return new Open(connection, transaction);
        }

        public ValueTask DisposeAsync() => new(schema.DisposeAsync());
    }

    private sealed class Open(NpgsqlConnection connection, NpgsqlTransaction transaction) : IOpenTransaction
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
