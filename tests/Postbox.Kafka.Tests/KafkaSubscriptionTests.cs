using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Kafka.Consumers;
using Postbox.Kafka.Tests.Infrastructure;

namespace Postbox.Kafka.Tests;

/// <summary>The consumer source on its own (no runtime): hand-back rewinds, prefetch, commits — against the mock cluster.</summary>
public sealed class KafkaSubscriptionTests
{
    private static async Task<(IConsumerSubscription Subscription, string Group)> SubscribeAsync(string topic, int prefetch)
    {
        var source = new KafkaConsumerSource(Options.Create(new KafkaConsumerOptions
        {
            BootstrapServers = MockKafka.BootstrapServers,
            CommitInterval = TimeSpan.FromMilliseconds(50),
        }), TimeProvider.System, NullLogger<KafkaConsumerSource>.Instance);
        var group = "sub-" + Guid.NewGuid().ToString("N");
        return (await source.SubscribeAsync(new ConsumerSubscriptionRequest(topic, group, null, prefetch), CancellationToken.None), group);
    }

    private static async Task PublishAsync(string topic, int count)
    {
        await using var transport = Hosts.Transport();
        for (var i = 0; i < count; i++)
        {
            await transport.PublishAsync(Hosts.Envelope(topic, $"m{i}"), CancellationToken.None); // one by one: offsets follow i
        }
    }

    private static async Task<IncomingMessage> ReadAsync(IConsumerSubscription subscription)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await subscription.Messages.ReadAsync(timeout.Token);
    }

    private static string Body(IncomingMessage message) => System.Text.Json.JsonSerializer.Deserialize<WorkItem>(message.Payload.Span,
        System.Text.Json.JsonSerializerOptions.Web)!.Body;

    [Fact]
    public async Task Requeue_RewindsToTheFirstUnsettledOffset_LaterAcksAreStale_NothingCommittedPastIt()
    {
        var topic = MockKafka.NewTopic("rewind");
        await MockKafka.CreateTopicAsync(topic, 1);
        await PublishAsync(topic, 5);
        var (subscription, group) = await SubscribeAsync(topic, 10);
        await using var _ = subscription;

        var first = new List<IncomingMessage>();
        for (var i = 0; i < 5; i++)
        {
            first.Add(await ReadAsync(subscription));
        }

        Assert.Equal(["m0", "m1", "m2", "m3", "m4"], first.Select(Body));
        Assert.All(first, m => Assert.False(m.IsStale));
        await first[0].AckAsync(CancellationToken.None);
        await first[1].AckAsync(CancellationToken.None);
        await first[2].RequeueAsync(CancellationToken.None);
        await first[3].AckAsync(CancellationToken.None);
        await first[4].AckAsync(CancellationToken.None);

        var again = new List<IncomingMessage>();
        for (var i = 0; i < 3; i++)
        {
            again.Add(await ReadAsync(subscription));
        }

        Assert.Equal(["m2", "m3", "m4"], again.Select(Body));
        Assert.All(again, m => Assert.True(m.Redelivered));
        Assert.True(first[3].IsStale, "a delivery from before the rewind must be stale");
        await Eventually.HoldsAsync(async () => (await MockKafka.CommittedAsync(group, topic, 1))[0] == 2, TimeSpan.FromSeconds(20),
            "offsets 0 and 1 are committed");
        await Task.Delay(500); // many commit intervals: m3 and m4 were acked before the rewind, yet must not be committed
        Assert.Equal(2, (await MockKafka.CommittedAsync(group, topic, 1))[0]);

        foreach (var message in again)
        {
            await message.AckAsync(CancellationToken.None);
        }

        await Eventually.HoldsAsync(async () => (await MockKafka.CommittedAsync(group, topic, 1))[0] == 5, TimeSpan.FromSeconds(20),
            "all five are committed");
    }

    [Fact]
    public async Task Prefetch_HoldsAtMostThatManyUnsettled_ASettleLetsTheNextOneIn()
    {
        var topic = MockKafka.NewTopic("prefetch");
        await MockKafka.CreateTopicAsync(topic, 2);
        await PublishAsync(topic, 10);
        var (subscription, _) = await SubscribeAsync(topic, 3);
        await using var __ = subscription;

        var taken = new List<IncomingMessage>();
        for (var i = 0; i < 3; i++)
        {
            taken.Add(await ReadAsync(subscription));
        }

        await Task.Delay(1500); // past the flow-control pause: a fourth delivery would show up here
        Assert.False(subscription.Messages.TryRead(out _), "a fourth message was delivered while three were unsettled");

        await taken[0].AckAsync(CancellationToken.None);
        taken.Add(await ReadAsync(subscription));
        Assert.False(subscription.Messages.TryRead(out _));
        foreach (var message in taken.Skip(1))
        {
            await message.AckAsync(CancellationToken.None);
        }

        for (var i = 0; i < 6; i++)
        {
            await (await ReadAsync(subscription)).AckAsync(CancellationToken.None);
        }
    }
}
