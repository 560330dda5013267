using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.Retry;

namespace Postbox.Consumers.Tests;

/// <summary>
/// Relay, in-memory transport and handlers in one process (the reference service's out-of-the-box mode): stopping it
/// mid-work must not count a message delivered before its effect is committed.
/// </summary>
public sealed class InMemoryShutdownTests : ServerTest
{
    private const int Count = 40;

    private IHost Build(HandlerScript script)
    {
        script.Schema = Db.Schema;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(script);
        builder.Services.AddPostbox(o =>
            {
                o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
                o.Relay.ShutdownTimeout = TimeSpan.FromSeconds(1);
                o.Relay.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(200));
                o.Relay.DeliveredRetention = TimeSpan.FromHours(1); // the test compares delivered rows with effects
            })
            .UsePostgreSql(TestEnvironment.PostgresConnectionString, o => { o.Schema = Db.Schema; o.ListenForNotifications = false; })
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o => { o.ShutdownTimeout = TimeSpan.FromSeconds(1); o.HandleSignals = false; })
            .AddHandler<WorkItem, TestHandler>("work", o => { o.ConsumerName = ConsumerHost.Consumer; o.Concurrency = 4; });
        return builder.Build();
    }

    [Fact]
    public async Task StoppedWhileHandlersRun_NoMessageIsDeliveredWithoutItsEffect_AndTheRestartFinishesEachOnce()
    {
        var first = Build(new HandlerScript { Delay = TimeSpan.FromMilliseconds(300) });
        await first.StartAsync();
        var outbox = first.Services.GetRequiredService<IOutbox>();
        await using (var connection = await Db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.EnqueueAsync(transaction, [.. Enumerable.Range(0, Count).Select(i => OutboxMessage.FromJson("work", new WorkItem($"item {i}")))]);
            await transaction.CommitAsync();
        }

        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() >= 4, TimeSpan.FromSeconds(20), "some messages handled");
        await first.StopAsync();
        first.Dispose();

        // Every message the relay counted delivered has its effect; the rest is still in the outbox to publish.
        Assert.Equal(0L, await ScalarAsync<long>(
            $"SELECT count(*) FROM \"{Db.Schema}\".outbox o WHERE o.state = 1 AND NOT EXISTS (SELECT 1 FROM \"{Db.Schema}\".effects e WHERE e.message_id = o.id)"));
        Assert.True(await Db.EffectsAsync() < Count, "The stop came too late to test anything: every message was already handled.");

        using var second = Build(new HandlerScript());
        await second.StartAsync();
        await TestEnvironment.WaitUntilAsync(async () => await Db.DistinctEffectsAsync() == Count, TimeSpan.FromSeconds(60), "every message handled after the restart");
        await TestEnvironment.WaitUntilAsync(async () => await ScalarAsync<long>($"SELECT count(*) FROM \"{Db.Schema}\".outbox WHERE state <> 1") == 0,
            TimeSpan.FromSeconds(30), "every message marked delivered");
        await second.StopAsync();

        Assert.Equal((long)Count, await Db.EffectsAsync());
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = Db.DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
