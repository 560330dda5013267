using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.RabbitMQ.Tests.Infrastructure;
using Postbox.Storage;
using Postbox.Transport;

namespace Postbox.RabbitMQ.Tests;

public sealed class RabbitMQOptionsValidationTests
{
    [Fact]
    public async Task UseRabbitMQ_WithInvalidOptions_FailsAtStartListingEveryError()
    {
        using var host = BuildHost(o =>
        {
            o.ConnectionString = "http://user:secret@localhost/";
            o.ExchangeName = "  ";
            o.QueueType = "stream-ish";
            o.PublishChannels = 0;
            o.MaxOutstandingConfirms = 0;
            o.ConnectionTimeout = TimeSpan.Zero;
            o.ReconnectDelay = TimeSpan.FromHours(1);
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(typeof(RabbitMQTransportOptions), error.OptionsType);
        Assert.Equal(7, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("ConnectionString", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("ExchangeName must not be blank", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("QueueType 'stream-ish' is unknown", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("PublishChannels", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MaxOutstandingConfirms", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("ConnectionTimeout", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("ReconnectDelay", StringComparison.Ordinal));
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A partitioned topic whose last partition queue (<c>{prefix}{topic}.p{n-1}</c>) exceeds 255 bytes could only produce
    /// unpublishable messages: refused at start, naming the queue. One byte shorter starts.
    /// </summary>
    [Theory]
    [InlineData(200, 10, true)]
    [InlineData(249, 10, true)]   // "pq." + topic + ".p9": 255 bytes, the limit itself
    [InlineData(250, 10, false)]  // 256
    [InlineData(248, 11, true)]   // ".p10": 255
    [InlineData(249, 11, false)]  // 256
    [InlineData(249, 1, true)]    // ".p0": 255
    public async Task UseRabbitMQ_PartitionQueueNamesBeyond255Bytes_FailAtStart(int topicBytes, int partitions, bool starts)
    {
        var topic = new string('t', topicBytes);
        using var host = BuildHost(o =>
        {
            o.QueuePrefix = "pq.";
            o.TopicPartitions[topic] = partitions;
        });

        if (starts)
        {
            await host.StartAsync();
            await host.StopAsync();
            return;
        }

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(error.Failures, f => f.Contains("exceeds AMQP's 255-byte limit", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UseRabbitMQ_WithReservedExchangeName_FailsAtStart()
    {
        using var host = BuildHost(o => o.ExchangeName = "amq.topic");
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(error.Failures, f => f.Contains("'amq.'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UseRabbitMQ_WithValidOptions_StartsAndRegistersTheTransportWithoutConnecting()
    {
        // An unreachable broker: start-up must not connect (connection is lazy, on the first publish).
        using var host = BuildHost(o => o.ConnectionString = "amqp://guest:guest@127.0.0.1:1/");
        await host.StartAsync();
        var transport = host.Services.GetRequiredService<IOutboxTransport>();
        Assert.IsType<RabbitMQTransport>(transport);
        Assert.Same(transport, host.Services.GetRequiredService<RabbitMQTransport>());
        await host.StopAsync();
    }

    private static IHost BuildHost(Action<RabbitMQTransportOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPostbox(o => o.Relay.Enabled = false).UseRabbitMQ(o =>
        {
            o.ConnectionString = RabbitMQBroker.Uri;
            configure(o);
        });

        // Store stand-ins: Postbox's own validation only checks that a store is registered; nothing resolves them here.
        builder.Services.AddSingleton<IOutboxStore>(_ => throw new NotSupportedException());
        builder.Services.AddSingleton<IOutboxWriter>(_ => throw new NotSupportedException());
        return builder.Build();
    }
}
