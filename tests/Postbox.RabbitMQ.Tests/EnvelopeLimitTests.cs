using Postbox.RabbitMQ.Messages;
using Postbox.RabbitMQ.Tests.Infrastructure;
using Postbox.Transport;
using Xunit.Abstractions;

namespace Postbox.RabbitMQ.Tests;

/// <summary>
/// The transport refuses, before publishing and without touching the connection, a message whose properties and
/// headers the broker would not take: RabbitMQ closes the whole connection over a header frame larger than frame_max
/// (501 FRAME_ERROR), failing every publish in flight on it.
/// </summary>
public sealed class EnvelopeLimitTests(ITestOutputHelper output)
{
    private const int FrameMax = 131_072; // RabbitMQ's default, negotiated by the client

    [Fact]
    public async Task Publish_HeaderLargerThanTheFrame_AmongFiftyConcurrent_FailsPermanentlyAlone_AndTheOthersAreConfirmed()
    {
        var exchange = RabbitMQBroker.UniqueName("px");
        var prefix = RabbitMQBroker.UniqueName("pq") + ".";
        const string topic = "limits";
        try
        {
            await using var transport = RabbitMQBroker.CreateTransport(o => (o.ExchangeName, o.QueuePrefix) = (exchange, prefix));
            await transport.PublishAsync(RabbitMQBroker.Envelope(topic), CancellationToken.None); // connected, queue declared
            var big = RabbitMQBroker.Envelope(topic, headers: new Dictionary<string, string> { ["big"] = new string('h', 200_000) });
            var normal = Enumerable.Range(0, 50).Select(_ => RabbitMQBroker.Envelope(topic)).ToList();

            var publishes = normal.Take(25).Append(big).Concat(normal.Skip(25))
                .Select(m => (m, Task: transport.PublishAsync(m, CancellationToken.None).AsTask())).ToList();
            await Task.WhenAll(publishes.Select(p => p.Task.ContinueWith(_ => { }, TaskScheduler.Default)));

            var error = Assert.IsType<TransportException>(publishes.Single(p => p.m.Id == big.Id).Task.Exception?.InnerException, exactMatch: true);
            output.WriteLine(error.Message);
            Assert.False(error.IsTransient);
            Assert.Contains("frame_max", error.Message, StringComparison.Ordinal);
            Assert.All(publishes.Where(p => p.m.Id != big.Id), p => Assert.True(p.Task.IsCompletedSuccessfully, p.Task.Exception?.Message));

            await using var reader = await QueueReader.StartAsync(prefix + topic);
            Assert.Equal(51, (await reader.ReadAsync(51, TimeSpan.FromSeconds(10))).Count);
        }
        finally
        {
            await RabbitMQBroker.DeleteAsync(exchange, prefix + topic);
        }
    }

    [Fact]
    public async Task Publish_HeaderFillingTheFrameExactly_IsAccepted_AndOneByteMore_IsRefusedBeforePublishing()
    {
        var exchange = RabbitMQBroker.UniqueName("px");
        var prefix = RabbitMQBroker.UniqueName("pq") + ".";
        const string topic = "limits";
        try
        {
            await using var transport = RabbitMQBroker.CreateTransport(o => (o.ExchangeName, o.QueuePrefix) = (exchange, prefix));
            OutboxEnvelope WithHeader(int length) =>
                RabbitMQBroker.Envelope(topic, key: "k", headers: new Dictionary<string, string> { ["big"] = new string('h', length) });
            var probe = WithHeader(0);
            var empty = AmqpMessage.ContentHeaderFrameSize(AmqpMessage.CreateProperties(probe, probe.Id.ToString("D")));
            var fits = (int)(FrameMax - empty);

            var atLimit = WithHeader(fits);
            await transport.PublishAsync(atLimit, CancellationToken.None);
            var over = await Assert.ThrowsAsync<TransportException>(() => transport.PublishAsync(WithHeader(fits + 1), CancellationToken.None).AsTask());
            Assert.False(over.IsTransient);
            // Many small headers summing past the frame are the same case.
            var many = Enumerable.Range(0, 2_000).ToDictionary(i => $"h{i:D4}", _ => new string('v', 60));
            var sum = await Assert.ThrowsAsync<TransportException>(() =>
                transport.PublishAsync(RabbitMQBroker.Envelope(topic, headers: many), CancellationToken.None).AsTask());
            Assert.False(sum.IsTransient);
            // The connection is unharmed: the message at the limit arrived, and publishing goes on.
            await transport.PublishAsync(RabbitMQBroker.Envelope(topic, body: "after"), CancellationToken.None);

            await using var reader = await QueueReader.StartAsync(prefix + topic);
            var deliveries = await reader.ReadAsync(2, TimeSpan.FromSeconds(10));
            Assert.Equal(atLimit.Id.ToString("D"), deliveries[0].MessageId);
            output.WriteLine($"A header of {fits} characters fills the {FrameMax}-byte frame and is accepted.");
        }
        finally
        {
            await RabbitMQBroker.DeleteAsync(exchange, prefix + topic);
        }
    }

    [Fact]
    public async Task Publish_TypeContentTypeOrHeaderNameOver255Bytes_IsRefusedPermanently()
    {
        var exchange = RabbitMQBroker.UniqueName("px");
        var prefix = RabbitMQBroker.UniqueName("pq") + ".";
        const string topic = "limits";
        try
        {
            await using var transport = RabbitMQBroker.CreateTransport(o => (o.ExchangeName, o.QueuePrefix) = (exchange, prefix));
            var cases = new[]
            {
                RabbitMQBroker.Envelope(topic) with { Type = new string('€', 100) },
                RabbitMQBroker.Envelope(topic, headers: new Dictionary<string, string> { [OutboxHeaders.ContentType] = new string('c', 256) }),
                RabbitMQBroker.Envelope(topic, headers: new Dictionary<string, string> { [new string('n', 256)] = "v" }),
            };
            foreach (var message in cases)
            {
                var error = await Assert.ThrowsAsync<TransportException>(() => transport.PublishAsync(message, CancellationToken.None).AsTask());
                output.WriteLine(error.Message);
                Assert.False(error.IsTransient);
            }

            await transport.PublishAsync(RabbitMQBroker.Envelope(topic) with { Type = new string('t', 255) }, CancellationToken.None);
        }
        finally
        {
            await RabbitMQBroker.DeleteAsync(exchange, prefix + topic);
        }
    }
}
