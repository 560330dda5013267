using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Postbox.IntegrationTests.Infrastructure;

namespace Postbox.IntegrationTests.Producer;

public sealed record OrderPlaced(Guid OrderId, decimal TotalAmount);

/// <summary><c>outbox.EnqueueAsync&lt;T&gt;(transaction, topic, value, key:, maxAttempts:, availableAt:)</c> against PostgreSQL.</summary>
public sealed class TypedEnqueueTests : IAsyncLifetime
{
    private readonly PostgresSchema _schema = new();

    public Task InitializeAsync() => _schema.InitializeAsync();

    public Task DisposeAsync() => _schema.DisposeAsync();

    [Fact]
    public async Task TypedEnqueue_StoresJsonWithTheConfiguredOptions_AndKeyMaxAttemptsAvailableAt()
    {
        using var host = PostboxHost.Build(_schema, transport: _ => { }, configure: o =>
        {
            o.Relay.Enabled = false;
            o.JsonOptions = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        });
        var outbox = host.Services.GetRequiredService<IOutbox>();
        var order = new OrderPlaced(Guid.CreateVersion7(), 12.5m);
        var later = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

        await using (var connection = await _schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.True(await outbox.EnqueueAsync(transaction, "orders", order, key: "customer-7", maxAttempts: 3, availableAt: later));
            await transaction.CommitAsync();
        }

        var row = await ReadSingleAsync();
        Assert.Equal($$"""{"order_id":"{{order.OrderId}}","total_amount":12.5}""", row.Payload);
        Assert.Equal(("orders", "customer-7", "OrderPlaced", 3, later), (row.Topic, row.Key, row.Type, row.MaxAttempts, row.AvailableAt));
    }

    [Fact]
    public async Task TypedEnqueue_WithoutOptions_UsesWebDefaults_NoKey_AndTheRelaysMaxAttempts()
    {
        using var host = PostboxHost.Build(_schema, transport: _ => { }, configure: o => o.Relay.Enabled = false);
        var outbox = host.Services.GetRequiredService<IOutbox>();
        var order = new OrderPlaced(Guid.CreateVersion7(), 3m);
        await using (var connection = await _schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.EnqueueAsync(transaction, "orders", order);
            await transaction.CommitAsync();
        }

        var row = await ReadSingleAsync();
        Assert.Equal($$"""{"orderId":"{{order.OrderId}}","totalAmount":3}""", row.Payload);
        Assert.Null(row.Key);
        Assert.Null(row.MaxAttempts);
    }

    [Fact]
    public async Task TypedEnqueue_RolledBack_LeavesNoMessage_AndAnInvalidMaxAttemptsIsRefused()
    {
        using var host = PostboxHost.Build(_schema, transport: _ => { }, configure: o => o.Relay.Enabled = false);
        var outbox = host.Services.GetRequiredService<IOutbox>();
        await using (var connection = await _schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await Assert.ThrowsAnyAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, "orders", new OrderPlaced(Guid.Empty, 1m), maxAttempts: 0));
            await outbox.EnqueueAsync(transaction, "orders", new OrderPlaced(Guid.Empty, 1m));
            await transaction.RollbackAsync();
        }

        Assert.Equal(0L, await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox"));
    }

    private async Task<(string Payload, string Topic, string? Key, string? Type, int? MaxAttempts, DateTimeOffset? AvailableAt)> ReadSingleAsync()
    {
        await using var command = _schema.DataSource.CreateCommand(
            $"SELECT convert_from(payload, 'UTF8'), topic, key, type, max_attempts, available_at FROM \"{_schema.Name}\".outbox");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var row = (reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? (int?)null : reader.GetInt32(4), reader.IsDBNull(5) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(5));
        Assert.False(await reader.ReadAsync());
        return row;
    }
}
