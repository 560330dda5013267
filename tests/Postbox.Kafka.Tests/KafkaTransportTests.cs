using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Postbox.Kafka.Tests.Infrastructure;
using Postbox.Transport;

namespace Postbox.Kafka.Tests;

public sealed class KafkaTransportTests
{
    [Fact]
    public async Task Publish_CarriesKeyIdTypeHeadersAndTraceparent()
    {
        var topic = MockKafka.NewTopic("headers");
        await MockKafka.CreateTopicAsync(topic, 3);
        await using var transport = Hosts.Transport();
        var id = Guid.CreateVersion7();
        const string traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var headers = new Dictionary<string, string>
        {
            ["traceparent"] = traceParent,
            ["content-type"] = "application/json",
            ["tenant"] = "acme",
            ["postbox-message-id"] = Guid.Empty.ToString(), // a forged reserved header must not win
        };

        await transport.PublishAsync(Hosts.Envelope(topic, "hello", id, key: "order-7", attempts: 2, headers: headers), CancellationToken.None);

        var record = Assert.Single(MockKafka.ReadAll(topic, 1, TimeSpan.FromSeconds(20)));
        Assert.Equal("order-7", record.Message.Key);
        var read = record.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()));
        Assert.Equal(id.ToString("D"), read["postbox-message-id"]);
        Assert.Single(record.Message.Headers, h => h.Key == "postbox-message-id");
        Assert.Equal("WorkItem", read["postbox-type"]);
        Assert.Equal("3", read["postbox-attempt"]);
        Assert.Equal(traceParent, read["traceparent"]);
        Assert.Equal("acme", read["tenant"]);
        Assert.Equal("application/json", read["content-type"]);
    }

    [Fact]
    public async Task Publish_MessageLargerThanTheLimit_FailsNonTransient_AndTheNextOneGoesThrough()
    {
        var topic = MockKafka.NewTopic("large");
        await MockKafka.CreateTopicAsync(topic, 1);
        await using var transport = Hosts.Transport(o => o.MaxMessageBytes = 2_000);

        var error = await Assert.ThrowsAsync<TransportException>(async () =>
            await transport.PublishAsync(Hosts.Envelope(topic, new string('x', 10_000)), CancellationToken.None));
        Assert.IsNotType<TransportUnavailableException>(error);
        Assert.False(error.IsTransient);

        await transport.PublishAsync(Hosts.Envelope(topic, "small"), CancellationToken.None);
        Assert.False(transport.IsUnavailable);
    }

    [Fact]
    public async Task Publish_ToUnknownTopicWithAutoCreateOff_FailsThatMessageOnly_AsTransient()
    {
        var topic = MockKafka.NewTopic("known");
        await MockKafka.CreateTopicAsync(topic, 1);
        await using var transport = Hosts.Transport(o => o.MessageTimeout = TimeSpan.FromSeconds(3));

        var unknown = transport.PublishAsync(Hosts.Envelope(MockKafka.NewTopic("unknown"), "lost?"), CancellationToken.None).AsTask();
        var known = Enumerable.Range(0, 20).Select(i => transport.PublishAsync(Hosts.Envelope(topic, $"m{i}"), CancellationToken.None).AsTask()).ToList();

        await Task.WhenAll(known);
        var error = await Assert.ThrowsAsync<TransportException>(() => unknown);
        Assert.IsNotType<TransportUnavailableException>(error);
        Assert.True(error.IsTransient);
        Assert.Contains("Unknown", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(transport.IsUnavailable);
        Assert.Equal(20, MockKafka.ReadAll(topic, 20, TimeSpan.FromSeconds(20)).Count);
    }

    [Fact]
    public async Task Publish_WhenNoBrokerAnswers_ThrowsUnavailable_ThenFailsFastUntilAProbeIsDue()
    {
        // Nothing listens on port 1: every broker is down from the start.
        await using var transport = new KafkaTransport(Options.Create(new KafkaTransportOptions
        {
            BootstrapServers = "127.0.0.1:1",
            MessageTimeout = TimeSpan.FromSeconds(1),
            UnavailableProbeInterval = TimeSpan.FromMinutes(5),
        }), NullLogger<KafkaTransport>.Instance, TimeProvider.System);

        await Assert.ThrowsAsync<TransportUnavailableException>(async () =>
            await transport.PublishAsync(Hosts.Envelope("orders", "a"), CancellationToken.None));
        Assert.True(transport.IsUnavailable);

        // Known down and no probe due: refused at once, before reaching librdkafka.
        var fast = await Assert.ThrowsAsync<TransportUnavailableException>(async () =>
            await transport.PublishAsync(Hosts.Envelope("orders", "b"), CancellationToken.None));
        Assert.Contains("unreachable", fast.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_IllegalTopicName_FailsNonTransient()
    {
        await using var transport = Hosts.Transport();
        var error = await Assert.ThrowsAsync<TransportException>(async () =>
            await transport.PublishAsync(Hosts.Envelope("orders/created", "x"), CancellationToken.None));
        Assert.False(error.IsTransient);
    }
}
