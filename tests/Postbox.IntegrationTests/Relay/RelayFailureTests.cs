using System.Diagnostics;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Retry;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Relay;

public sealed class RelayFailureTests : ServerTest
{
    [Fact]
    public async Task Relay_WhenTopicUnroutable_RecordsAttemptsAndErrors_HonoursBackoff_GoesDead_AndOthersKeepFlowing()
    {
        await Broker.ConsumeAsync("good");
        var poison = PostgresSchema.Message("nowhere");
        await Schema.EnqueueAsync([poison, .. Enumerable.Range(0, 200).Select(_ => PostgresSchema.Message("good"))]);
        var backoff = TimeSpan.FromMilliseconds(700);
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b, declareQueues: false), o =>
        {
            o.Relay.MaxAttempts = 3;
            o.Relay.RetryPolicy = RetryPolicy.Fixed(backoff);
        });
        var clock = Stopwatch.StartNew();

        await relay.StartAsync();
        await Broker.WaitForAsync(200, TimeSpan.FromSeconds(30));
        var goodDoneAt = clock.Elapsed;
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<short>($"SELECT state FROM {{schema}}.outbox WHERE id = '{poison.Id}'") == 2,
            TimeSpan.FromSeconds(30), "the unroutable message is dead");
        var deadAt = clock.Elapsed;
        await relay.StopAsync();

        Assert.Equal(3, await Schema.ScalarAsync<int>($"SELECT attempts FROM {{schema}}.outbox WHERE id = '{poison.Id}'"));
        var error = await Schema.ScalarAsync<string>($"SELECT last_error FROM {{schema}}.outbox WHERE id = '{poison.Id}'");
        Assert.Contains("nowhere", error, StringComparison.Ordinal);
        // Three attempts with two back-offs between them cannot finish sooner than the back-offs add up to.
        Assert.True(deadAt >= 2 * backoff, $"Dead after {deadAt}, sooner than two back-offs of {backoff}.");
        // The poison message held nothing up: all good messages arrived before it went dead.
        Assert.True(goodDoneAt < deadAt);
        Assert.Equal(200L, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1"));
        Assert.DoesNotContain(Broker.Received, r => r.Id == poison.Id.ToString());
    }

    [Fact]
    public async Task Relay_WhenARelayDiesHoldingALease_AnotherRelayDeliversItsMessagesAfterExpiry()
    {
        await Broker.ConsumeAsync("orders");
        var messages = Enumerable.Range(0, 50).Select(_ => PostgresSchema.Message("orders")).ToList();
        await Schema.EnqueueAsync(messages);
        // The "dead" relay claims everything and never settles: exactly what a crash after claiming leaves behind.
        var lease = TimeSpan.FromSeconds(3);
        var now = DateTimeOffset.UtcNow;
        var held = (await Schema.Store.ClaimAsync(new ClaimRequest("crashed-relay", 100, now, now + lease, true), default)).Messages;
        Assert.Equal(50, held.Count);
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b));

        await relay.StartAsync();
        await Task.Delay(lease / 2);
        Assert.Empty(Broker.Received); // still leased
        await Broker.WaitForAsync(50, TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 50,
            TimeSpan.FromSeconds(10), "the taken-over messages are marked delivered");
        await relay.StopAsync();

        Assert.Equal(messages.Select(m => m.Id.ToString()).Order(), Broker.Received.Select(r => r.Id).Order());
        Assert.Equal(0L, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE lease_owner = 'crashed-relay'"));
    }

    [Fact]
    public async Task Relay_Cleanup_DeletesDeliveredRowsPastRetention_AndKeepsEverythingElse()
    {
        await Broker.ConsumeAsync("orders");
        var dead = PostgresSchema.Message("nowhere", maxAttempts: 1);
        var delayed = new OutboxMessage("orders", "{}"u8.ToArray()) { AvailableAt = DateTimeOffset.UtcNow.AddHours(1) };
        await Schema.EnqueueAsync([dead, delayed, .. Enumerable.Range(0, 100).Select(_ => PostgresSchema.Message("orders"))]);
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b, declareQueues: false), o =>
        {
            o.Relay.DeliveredRetention = TimeSpan.FromMilliseconds(200);
            o.Relay.CleanupInterval = TimeSpan.FromMilliseconds(200);
            o.Relay.CleanupBatchSize = 7;
        });

        await relay.StartAsync();
        await Broker.WaitForAsync(100, TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox") == 2,
            TimeSpan.FromSeconds(30), "delivered rows are cleaned up");
        await relay.StopAsync();

        Assert.Equal(2, await Schema.ScalarAsync<short>($"SELECT state FROM {{schema}}.outbox WHERE id = '{dead.Id}'"));
        Assert.Equal(4, await Schema.ScalarAsync<short>($"SELECT state FROM {{schema}}.outbox WHERE id = '{delayed.Id}'"));
    }
}
