using System.Globalization;
using Microsoft.Extensions.Hosting;
using Postbox.IntegrationTests.Infrastructure;

namespace Postbox.IntegrationTests.Relay;

public sealed class RelayDeliveryTests : ServerTest
{
    private async Task EnqueueManyAsync(int count, Func<int, string?>? key = null, string topic = "orders")
    {
        for (var start = 0; start < count; start += 10_000)
        {
            var batch = Enumerable.Range(start, Math.Min(10_000, count - start))
                .Select(i => PostgresSchema.Message(topic, key?.Invoke(i), body: i.ToString(CultureInfo.InvariantCulture)))
                .ToList();
            await Schema.EnqueueAsync(batch);
        }
    }

    [Fact]
    public async Task Relay_Delivers20000Messages_EveryIdArrivesExactlyOnce()
    {
        await Broker.ConsumeAsync("orders");
        await EnqueueManyAsync(20_000);
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b));

        await relay.StartAsync();
        await Broker.WaitForAsync(20_000, TimeSpan.FromMinutes(2));
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 20_000,
            TimeSpan.FromSeconds(30), "every message is marked delivered");
        await relay.StopAsync();

        var ids = Broker.Received.Select(r => r.Id).ToList();
        Assert.Equal(20_000, ids.Count);
        Assert.Equal(20_000, ids.Distinct().Count());
    }

    [Fact]
    public async Task DefaultOptions_DeleteEachMessageOnConfirm_KeyedAndKeyless_UnderTwoRelays()
    {
        // The library default (the test host keeps an hour of history for the other tests).
        var retention = new Postbox.Relay.RelayOptions().DeliveredRetention;
        Assert.Equal(TimeSpan.Zero, retention);
        await Broker.ConsumeAsync("orders");
        await EnqueueManyAsync(6_000, i => i % 2 == 0 ? null : "key-" + (i % 40).ToString(CultureInfo.InvariantCulture));
        var relays = Enumerable.Range(0, 2).Select(_ => PostboxHost.Build(Schema, b => Broker.UseIn(b), o => (o.Relay.BatchSize, o.Relay.DeliveredRetention) = (250, retention))).ToList();

        await Task.WhenAll(relays.Select(r => r.StartAsync()));
        await Broker.WaitForAsync(6_000, TimeSpan.FromMinutes(2));
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox") == 0,
            TimeSpan.FromSeconds(30), "every confirmed message is deleted, none kept as delivered");
        await Task.WhenAll(relays.Select(r => r.StopAsync()));
        relays.ForEach(r => r.Dispose());

        Assert.Equal(6_000, Broker.Received.Select(r => r.Id).Distinct().Count());
        Assert.Equal(6_000, Broker.Received.Count);
    }

    [Fact]
    public async Task ThreeRelays_Deliver20000Messages_NoneTwice_NoneLost()
    {
        await Broker.ConsumeAsync("orders");
        await EnqueueManyAsync(20_000);
        var relays = Enumerable.Range(0, 3).Select(_ => PostboxHost.Build(Schema, b => Broker.UseIn(b), o => o.Relay.BatchSize = 200)).ToList();

        await Task.WhenAll(relays.Select(r => r.StartAsync()));
        await Broker.WaitForAsync(20_000, TimeSpan.FromMinutes(2));
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 20_000,
            TimeSpan.FromSeconds(30), "every message is marked delivered");
        await Task.Delay(500); // let a duplicate, if any, arrive
        await Task.WhenAll(relays.Select(r => r.StopAsync()));
        relays.ForEach(r => r.Dispose());

        var ids = Broker.Received.Select(r => r.Id).ToList();
        Assert.Equal(20_000, ids.Distinct().Count());
        Assert.Equal(20_000, ids.Count);
    }

    [Fact]
    public async Task PerKeyOrdering_50KeysOf200Messages_UnderThreeRelays_ArriveInOrderPerKey()
    {
        await Broker.ConsumeAsync("orders");
        // Keys interleaved: message i belongs to key i % 50 and is number i / 50 of its key.
        await EnqueueManyAsync(10_000, i => "key-" + (i % 50).ToString(CultureInfo.InvariantCulture));
        var relays = Enumerable.Range(0, 3).Select(_ => PostboxHost.Build(Schema, b => Broker.UseIn(b), o => o.Relay.BatchSize = 300)).ToList();

        await Task.WhenAll(relays.Select(r => r.StartAsync()));
        await Broker.WaitForAsync(10_000, TimeSpan.FromMinutes(2));
        await Task.WhenAll(relays.Select(r => r.StopAsync()));
        relays.ForEach(r => r.Dispose());

        var byKey = Broker.Received.GroupBy(r => r.Key!).ToList();
        Assert.Equal(50, byKey.Count);
        foreach (var key in byKey)
        {
            var sequence = key.Select(r => int.Parse(r.Body, CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(200, sequence.Count);
            Assert.True(sequence.SequenceEqual(sequence.Order()), $"Messages of {key.Key} arrived out of order: {string.Join(",", sequence.Take(30))}...");
        }
    }
}
