using Postbox.Consumers.Tests.Infrastructure;

namespace Postbox.Consumers.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerRestartGroup
{
    public const string Name = "Broker restarts";
}

[Collection(BrokerRestartGroup.Name)]
public sealed class BrokerRestartTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    [Fact]
    public async Task Broker_RestartedWhileConsuming_NoLossNoDoubleEffect()
    {
        var topic = TestBroker.NewTopic("restart");
        await Broker.DeclareAsync(topic);
        var script = new HandlerScript { Delay = TimeSpan.FromMilliseconds(30) };
        using var host = await ConsumerHost.StartAsync(Db, topic, script, o => o.Concurrency = 4);

        const int before = 300, after = 50;
        for (var i = 0; i < before; i++)
        {
            await Broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem($"before {i}"));
        }

        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() >= 20, Wait, "consuming");
        try
        {
            await TestBroker.RabbitMQCtlAsync("stop_app");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        finally
        {
            await TestBroker.RabbitMQCtlAsync("start_app");
            await TestBroker.RabbitMQCtlAsync("await_startup --timeout 60");
        }

        await Broker.ResetAsync();
        for (var i = 0; i < after; i++)
        {
            await Broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem($"after {i}"));
        }

        await TestEnvironment.WaitUntilAsync(async () => await Db.DistinctEffectsAsync() == before + after, Wait, "every message handled");
        await Task.Delay(500);
        Assert.Equal(before + after, await Db.EffectsAsync()); // no double effect
        await TestEnvironment.WaitUntilAsync(async () => await Broker.ReadyCountAsync(topic) == 0, Wait, "queue drained");
        await host.StopAsync();
    }
}
