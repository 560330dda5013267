using Postbox.Consumers.Tests.Infrastructure;

namespace Postbox.Consumers.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerRestartGroup
{
    public const string Name = "Broker restarts";
}

[Collection(BrokerRestartGroup.Name)]
public sealed class BrokerRestartTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly TestDatabase _db = new();
    private readonly TestBroker _broker = new();

    public Task InitializeAsync() => _db.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task Broker_RestartedWhileConsuming_NoLossNoDoubleEffect()
    {
        var topic = TestBroker.NewTopic("restart");
        await _broker.DeclareAsync(topic);
        var script = new HandlerScript { Delay = TimeSpan.FromMilliseconds(30) };
        using var host = await ConsumerHost.StartAsync(_db, topic, script, o => o.Concurrency = 4);

        const int before = 300, after = 50;
        for (var i = 0; i < before; i++)
        {
            await _broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem($"before {i}"));
        }

        await TestEnvironment.WaitUntilAsync(async () => await _db.EffectsAsync() >= 20, Wait, "consuming");
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

        await _broker.ResetAsync();
        for (var i = 0; i < after; i++)
        {
            await _broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem($"after {i}"));
        }

        await TestEnvironment.WaitUntilAsync(async () => await _db.DistinctEffectsAsync() == before + after, Wait, "every message handled");
        await Task.Delay(500);
        Assert.Equal(before + after, await _db.EffectsAsync()); // no double effect
        await TestEnvironment.WaitUntilAsync(async () => await _broker.ReadyCountAsync(topic) == 0, Wait, "queue drained");
        await host.StopAsync();
    }
}
