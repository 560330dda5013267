using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

/// <summary>
/// The relay's claim and settles and the writer's insert are explicitly prepared once per physical connection. These
/// tests pin what must keep working around that: data sources on which Npgsql refuses preparation, and a schema whose
/// tables are replaced under connections that hold the prepared statements.
/// </summary>
public sealed class PostgreSqlPreparedStatementTests : IAsyncLifetime
{
    private readonly string _name = "t_" + Guid.NewGuid().ToString("N")[..12];
    private readonly NpgsqlDataSource _admin = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);

    private PostgreSqlOptions Options => new() { Schema = _name };

    public async Task InitializeAsync() => await MigrateAsync();

    public async Task DisposeAsync()
    {
        await ExecuteAsync($"DROP SCHEMA IF EXISTS \"{_name}\" CASCADE");
        await _admin.DisposeAsync();
    }

    [Fact]
    public async Task MultiplexingDataSource_EnqueuesClaimsAndSettles_KeyedAndKeyless_BothDeadKeyPolicies()
    {
        // Npgsql throws NotSupportedException from every explicit Prepare on a multiplexing data source; the relay used to
        // fail each claim with it (and the writer each enqueue), delivering nothing.
        await using var multiplexing = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString + ";Multiplexing=true");
        var store = new PostgreSqlOutboxStore(multiplexing, Options);
        await EnqueueAsync(multiplexing, Enumerable.Range(0, 6).Select(i => PostgresSchema.Message("orders", i % 2 == 0 ? null : "k" + (i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray());

        var now = DateTimeOffset.UtcNow;
        var first = (await store.ClaimAsync(new ClaimRequest("a", 2, now, now.AddMinutes(1), DeadMessagesBlockKey: true), CancellationToken.None)).Messages;
        Assert.Equal(2, first.Count);
        // A failure (its settle takes the claim lock too) and a release, then a delivery of the rest under the other policy.
        Assert.Equal(2, await store.SettleAsync(new SettleRequest("a", now, [], [new DeliveryFailure(first[0].Id, "boom", now, Dead: false)], [first[1].Id], DeleteDelivered: true), CancellationToken.None));
        var rest = (await store.ClaimAsync(new ClaimRequest("a", 100, now, now.AddMinutes(1), DeadMessagesBlockKey: false), CancellationToken.None)).Messages;
        Assert.Equal(6, rest.Count);
        Assert.Equal(6, await store.SettleAsync(new SettleRequest("a", now, [.. rest.Select(m => m.Id)], [], [], DeleteDelivered: true), CancellationToken.None));

        Assert.Equal(0L, await CountAsync());
    }

    [Fact]
    public async Task SchemaDroppedAndMigratedAgain_UnderConnectionsHoldingThePreparedClaim_DeliversFromTheNewTables()
    {
        // One physical connection, kept across opens, so every call below reuses the statements prepared by the first.
        await using var single = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString + ";Maximum Pool Size=1;No Reset On Close=true");
        var store = new PostgreSqlOutboxStore(single, Options);
        await EnqueueAsync(single, PostgresSchema.Message("orders"), PostgresSchema.Message("orders", "k"));
        Assert.Equal(2, await DeliverAsync(store, block: true));
        Assert.Equal(0, await DeliverAsync(store, block: false));

        await ExecuteAsync($"DROP SCHEMA \"{_name}\" CASCADE");
        await MigrateAsync();
        await EnqueueAsync(single, PostgresSchema.Message("orders"), PostgresSchema.Message("orders", "k"));
        Assert.Equal(2, await DeliverAsync(store, block: false));

        // The outbox renamed away: a clear error naming the table, and the claim works again once it is back.
        await ExecuteAsync($"ALTER TABLE \"{_name}\".outbox RENAME TO outbox_away");
        var error = await Assert.ThrowsAsync<PostgresException>(() => DeliverAsync(store, block: true));
        Assert.Contains($"\"{_name}.outbox\" does not exist", error.MessageText, StringComparison.Ordinal);
        await ExecuteAsync($"ALTER TABLE \"{_name}\".outbox_away RENAME TO outbox");
        // A later migration adding a column does not change what the prepared claim returns.
        await ExecuteAsync($"ALTER TABLE \"{_name}\".outbox ADD COLUMN later_column int");
        await EnqueueAsync(single, PostgresSchema.Message("orders"), PostgresSchema.Message("orders", "k"));
        Assert.Equal(2, await DeliverAsync(store, block: true));
        Assert.Equal(0L, await CountAsync());
    }

    private static async Task<int> DeliverAsync(PostgreSqlOutboxStore store, bool block)
    {
        var now = DateTimeOffset.UtcNow;
        var claimed = (await store.ClaimAsync(new ClaimRequest("a", 10, now, now.AddMinutes(1), block), CancellationToken.None)).Messages;
        Assert.Equal(claimed.Count, await store.SettleAsync(new SettleRequest("a", now, [.. claimed.Select(m => m.Id)], [], [], DeleteDelivered: true), CancellationToken.None));
        return claimed.Count;
    }

    private async Task EnqueueAsync(NpgsqlDataSource dataSource, params OutboxMessage[] messages)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await new PostgreSqlOutboxWriter(Options).WriteAsync(transaction, messages, DateTimeOffset.UtcNow, CancellationToken.None);
        await transaction.CommitAsync();
    }

    private async Task MigrateAsync() => await new PostgreSqlMigrator(_admin, Options).MigrateAsync();

    private async Task<long> CountAsync()
    {
        await using var command = _admin.CreateCommand($"SELECT count(*) FROM \"{_name}\".outbox");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = _admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
