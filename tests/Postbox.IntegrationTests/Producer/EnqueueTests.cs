using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Producer;

public sealed class EnqueueTests : IAsyncLifetime
{
    private readonly PostgresSchema _schema = new();

    public Task InitializeAsync() => _schema.InitializeAsync();

    public Task DisposeAsync() => _schema.DisposeAsync();

    private Microsoft.Extensions.Hosting.IHost BuildProducer() =>
        PostboxHost.Build(_schema, configure: o => o.Relay.Enabled = false, transport: _ => { });

    [Fact]
    public async Task Enqueue_WhenCommitted_MessageBecomesClaimableWithTheBusinessRow()
    {
        using var host = BuildProducer();
        var outbox = host.Services.GetRequiredService<IOutbox>();
        await _schema.ExecuteAsync("CREATE TABLE {schema}.customers (id uuid PRIMARY KEY, name text NOT NULL)");
        var message = OutboxMessage.FromJson("customers", new { Name = "Ada" }, key: "c-1");

        await using (var connection = await _schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var insert = new Npgsql.NpgsqlCommand($"INSERT INTO \"{_schema.Name}\".customers VALUES (gen_random_uuid(), 'Ada')", connection, transaction))
            {
                await insert.ExecuteNonQueryAsync();
            }

            await outbox.EnqueueAsync(transaction, message);

            // Not visible to a relay before the commit.
            var now = DateTimeOffset.UtcNow;
            Assert.Empty((await _schema.Store.ClaimAsync(new ClaimRequest("relay", 10, now, now.AddSeconds(30), true), default)).Messages);
            await transaction.CommitAsync();
        }

        var claimNow = DateTimeOffset.UtcNow;
        var claimed = Assert.Single((await _schema.Store.ClaimAsync(new ClaimRequest("relay", 10, claimNow, claimNow.AddSeconds(30), true), default)).Messages);
        Assert.Equal(message.Id, claimed.Id);
        Assert.Equal("application/json", claimed.Headers[OutboxHeaders.ContentType]);
        Assert.Equal(1L, await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.customers"));
    }

    [Fact]
    public async Task Enqueue_WhenRolledBack_LeavesNoTrace()
    {
        using var host = BuildProducer();
        var outbox = host.Services.GetRequiredService<IOutbox>();

        await using (var connection = await _schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.EnqueueAsync(transaction, [PostgresSchema.Message("t"), PostgresSchema.Message("t")]);
            await transaction.RollbackAsync();
        }

        Assert.Equal(0L, await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox"));
    }

    [Fact]
    public async Task Enqueue_Bulk10000InOneCall_StoresAllInOrder()
    {
        using var host = BuildProducer();
        var outbox = host.Services.GetRequiredService<IOutbox>();
        var messages = Enumerable.Range(0, 10_000).Select(i => PostgresSchema.Message("bulk", key: $"k{i % 10}", body: i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();

        await using (var connection = await _schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.EnqueueAsync(transaction, messages);
            await transaction.CommitAsync();
        }

        Assert.Equal(10_000L, await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox"));
        // Sequence follows the order of the call, which is what per-key ordering relies on.
        var ordered = await _schema.ScalarAsync<bool>(
            "SELECT bool_and(ok) FROM (SELECT convert_from(payload, 'UTF8')::int = row_number() OVER (ORDER BY seq) - 1 AS ok FROM {schema}.outbox) s");
        Assert.True(ordered);
    }

    [Fact]
    public async Task Enqueue_FillsTraceParentFromTheCurrentActivity()
    {
        using var host = BuildProducer();
        var outbox = host.Services.GetRequiredService<IOutbox>();
        using var activity = new Activity("test").SetIdFormat(ActivityIdFormat.W3C).Start();
        var message = PostgresSchema.Message("traced");

        await using (var connection = await _schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.EnqueueAsync(transaction, message);
            await transaction.CommitAsync();
        }

        var stored = await _schema.ScalarAsync<string>("SELECT headers->>'traceparent' FROM {schema}.outbox");
        Assert.Equal(activity.Id, stored);
    }

    [Fact]
    public async Task Enqueue_InvalidMessage_IsRefusedWithTheFieldNamed_AndNothingIsWritten()
    {
        using var host = PostboxHost.Build(_schema, configure: o => { o.Relay.Enabled = false; o.MaxPayloadBytes = 10; }, transport: _ => { });
        var outbox = host.Services.GetRequiredService<IOutbox>();

        await using var connection = await _schema.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var tooBig = await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, new OutboxMessage("t", new byte[11])));
        Assert.Contains("Payload is 11 bytes", tooBig.Message, StringComparison.Ordinal);
        var badAttempts = await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, new OutboxMessage("t", new byte[1]) { MaxAttempts = 0 }));
        Assert.Contains("MaxAttempts", badAttempts.Message, StringComparison.Ordinal);
        var longKey = await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, new OutboxMessage("t", new byte[1]) { Key = new string('k', 300) }));
        Assert.Contains("Key", longKey.Message, StringComparison.Ordinal);
        await transaction.CommitAsync();

        Assert.Equal(0L, await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox"));
    }

    [Fact]
    public async Task CreateEnqueueCommands_RideInTheCallersBatch_CommitTogether_AndRollBackTogether()
    {
        using var host = BuildProducer();
        var outbox = host.Services.GetRequiredService<Postbox.PostgreSql.PostgreSqlOutbox>();
        await _schema.ExecuteAsync("CREATE TABLE {schema}.orders (id uuid PRIMARY KEY)");
        async Task PlaceOrderAsync(OutboxMessage message, bool commit)
        {
            await using var connection = await _schema.DataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using var batch = new Npgsql.NpgsqlBatch(connection, transaction);
            batch.BatchCommands.Add(new Npgsql.NpgsqlBatchCommand($"INSERT INTO \"{_schema.Name}\".orders VALUES (gen_random_uuid())"));
            foreach (var command in outbox.CreateEnqueueCommands([message]))
            {
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync();
            if (commit)
            {
                await transaction.CommitAsync();
            }
        }

        var kept = PostgresSchema.Message("orders", key: "o-1");
        await PlaceOrderAsync(kept, commit: true);
        await PlaceOrderAsync(PostgresSchema.Message("orders"), commit: false);

        var now = DateTimeOffset.UtcNow;
        var claimed = Assert.Single((await _schema.Store.ClaimAsync(new ClaimRequest("relay", 10, now, now.AddSeconds(30), true), default)).Messages);
        Assert.Equal((kept.Id, "o-1"), (claimed.Id, claimed.Key));
        Assert.Equal(1L, await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.orders"));
        Assert.Throws<ArgumentException>(() => outbox.CreateEnqueueCommands([new OutboxMessage("t", new byte[1]) { MaxAttempts = 0 }]));
        Assert.Throws<ArgumentException>(() => outbox.CreateEnqueueCommands([]));
    }
}
