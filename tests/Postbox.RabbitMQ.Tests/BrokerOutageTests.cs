using System.Diagnostics;
using Postbox.RabbitMQ.Tests.Infrastructure;
using Postbox.Transport;
using Xunit.Abstractions;

namespace Postbox.RabbitMQ.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerOutageTestGroup
{
    public const string Name = "RabbitMQ broker outage";
}

/// <summary>
/// Stops the RabbitMQ application (not the node) for a few seconds. Runs alone within this project; other test
/// projects sharing the broker may see a short outage, which they must tolerate like any broker restart.
/// </summary>
[Collection(BrokerOutageTestGroup.Name)]
public sealed class BrokerOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Publish_WhenBrokerStopsAndRestarts_FailsFastThenSucceedsOnSameTransport()
    {
        var exchange = RabbitMQBroker.UniqueName("px");
        var prefix = RabbitMQBroker.UniqueName("pq") + ".";
        const string topic = "outage";
        var stopped = false;
        try
        {
            await using var transport = RabbitMQBroker.CreateTransport(o =>
                (o.ExchangeName, o.QueuePrefix, o.ReconnectDelay) = (exchange, prefix, TimeSpan.FromSeconds(1)));
            await transport.PublishAsync(RabbitMQBroker.Envelope(topic, body: "before"), CancellationToken.None);

            stopped = true;
            await RabbitMQBroker.RabbitMQCtlAsync("stop_app");

            var stopwatch = Stopwatch.StartNew();
            using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                var error = await Assert.ThrowsAsync<TransportUnavailableException>(
                    () => transport.PublishAsync(RabbitMQBroker.Envelope(topic, body: "during"), guard.Token).AsTask());
                output.WriteLine($"During the outage after {stopwatch.ElapsedMilliseconds} ms: {error.Message}");
                Assert.True(error.IsTransient);
            }

            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"The failing publish took {stopwatch.Elapsed}.");

            await RabbitMQBroker.RabbitMQCtlAsync("start_app");
            await RabbitMQBroker.RabbitMQCtlAsync("await_startup", "--timeout", "60");
            stopped = false;

            stopwatch.Restart();
            var after = RabbitMQBroker.Envelope(topic, body: "after");
            var attempts = 0;
            while (true)
            {
                attempts++;
                try
                {
                    using var attemptTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await transport.PublishAsync(after, attemptTimeout.Token);
                    break;
                }
                catch (Exception ex) when (ex is TransportException or OperationCanceledException && stopwatch.Elapsed < TimeSpan.FromSeconds(60))
                {
                    await Task.Delay(250);
                }
            }

            output.WriteLine($"Published again after {stopwatch.ElapsedMilliseconds} ms and {attempts} attempts.");

            await using var reader = await QueueReader.StartAsync(prefix + topic);
            var bodies = (await reader.ReadAsync(2, TimeSpan.FromSeconds(10))).Select(d => System.Text.Encoding.UTF8.GetString(d.Body)).ToList();
            Assert.Equal(["before", "after"], bodies);
        }
        finally
        {
            if (stopped)
            {
                await RabbitMQBroker.RabbitMQCtlAsync("start_app");
                await RabbitMQBroker.RabbitMQCtlAsync("await_startup", "--timeout", "60");
            }

            await RabbitMQBroker.DeleteAsync(exchange, prefix + topic);
        }
    }

    [Fact]
    public async Task Publish_WhenTheBrokerBlocksTheConnection_IsUnavailable_ProbeFailsUntilUnblocked_ThenPublishingResumes()
    {
        var exchange = RabbitMQBroker.UniqueName("px");
        var prefix = RabbitMQBroker.UniqueName("pq") + ".";
        const string topic = "alarm";
        var alarm = false;
        try
        {
            await using var transport = RabbitMQBroker.CreateTransport(o => (o.ExchangeName, o.QueuePrefix) = (exchange, prefix));
            await transport.PublishAsync(RabbitMQBroker.Envelope(topic, body: "before"), CancellationToken.None);

            alarm = true;
            await RabbitMQBroker.RabbitMQCtlAsync("set_vm_memory_high_watermark", "0.000001");
            // The first publish under the alarm waits for a confirm that does not come (the broker stops reading), then
            // times out: not the message's fault. Once the client knows, publishes fail at once without being sent.
            for (var i = 0; i < 2; i++)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                var error = await Assert.ThrowsAsync<TransportUnavailableException>(
                    () => transport.PublishAsync(RabbitMQBroker.Envelope(topic, body: "during"), timeout.Token).AsTask());
                output.WriteLine($"Publish {i + 1} under the alarm: {error.Message}");
            }

            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                await Assert.ThrowsAsync<TransportUnavailableException>(() => transport.ProbeAsync(timeout.Token).AsTask());
            }

            await RabbitMQBroker.RabbitMQCtlAsync("set_vm_memory_high_watermark", "0.4");
            alarm = false;
            var stopwatch = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await transport.ProbeAsync(timeout.Token);
                    break;
                }
                catch (TransportUnavailableException) when (stopwatch.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(100);
                }
            }

            output.WriteLine($"The probe succeeded {stopwatch.ElapsedMilliseconds} ms after the alarm cleared.");
            await transport.PublishAsync(RabbitMQBroker.Envelope(topic, body: "after"), CancellationToken.None);
        }
        finally
        {
            if (alarm)
            {
                await RabbitMQBroker.RabbitMQCtlAsync("set_vm_memory_high_watermark", "0.4");
            }

            await RabbitMQBroker.DeleteAsync(exchange, prefix + topic);
        }
    }
}
