using Microsoft.Extensions.DependencyInjection;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;

namespace Postbox.IntegrationTests.Relay;

/// <summary>
/// Each wake-up path on its own: the relay polls only once an hour, so a message that arrives within the
/// test's wait was delivered because of the wake-up under test.
/// </summary>
public sealed class RelayWakeupTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private Microsoft.Extensions.Hosting.IHost Relay(TimeSpan poll, bool listen) =>
        PostboxHost.Build(Schema, b => Broker.UseIn(b), o => o.Relay.PollInterval = poll,
            services => services.Configure<PostgreSqlOptions>(o => o.ListenForNotifications = listen));

    /// <summary>Enqueues from outside the relay's process, as another service instance would.</summary>
    private async Task EnqueueElsewhereAsync(OutboxMessage message, bool notify)
    {
        await using var connection = await Schema.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var writer = new PostgreSqlOutboxWriter(new PostgreSqlOptions { Schema = Schema.Name, NotifyOnEnqueue = notify });
        await writer.WriteAsync(transaction, [message], DateTimeOffset.UtcNow, CancellationToken.None);
        await transaction.CommitAsync();
    }

    private async Task WaitUntilIdleAsync()
    {
        // The relay claims once at start; give it time to finish that claim and start waiting.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Empty(Broker.Received);
    }

    [Fact]
    public async Task Relay_IsWokenByNotifyFromAnotherProcess()
    {
        await Broker.ConsumeAsync("orders");
        using var relay = Relay(TimeSpan.FromHours(1), listen: true);
        await relay.StartAsync();
        await WaitUntilIdleAsync();

        await EnqueueElsewhereAsync(PostgresSchema.Message("orders"), notify: true);

        await Broker.WaitForAsync(1, Wait);
        await relay.StopAsync();
    }

    [Fact]
    public async Task Relay_IsWokenInProcessAfterALocalEnqueue_WithoutNotifications()
    {
        await Broker.ConsumeAsync("orders");
        using var relay = Relay(TimeSpan.FromHours(1), listen: false);
        await relay.StartAsync();
        await WaitUntilIdleAsync();
        var outbox = relay.Services.GetRequiredService<IOutbox>();

        await using (var connection = await Schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.EnqueueAsync(transaction, PostgresSchema.Message("orders"));
            await transaction.CommitAsync();
        }

        await Broker.WaitForAsync(1, Wait);
        await relay.StopAsync();
    }

    [Fact]
    public async Task Relay_FindsMessagesByPolling_WhenNoWakeUpArrives()
    {
        await Broker.ConsumeAsync("orders");
        using var relay = Relay(TimeSpan.FromMilliseconds(200), listen: false);
        await relay.StartAsync();
        await WaitUntilIdleAsync();

        await EnqueueElsewhereAsync(PostgresSchema.Message("orders"), notify: false);

        await Broker.WaitForAsync(1, Wait);
        await relay.StopAsync();
    }

    [Fact]
    public async Task Relay_WithoutAnyWakeUp_DoesNotSeeTheMessageBeforeItsNextPoll()
    {
        // The control for the tests above: with no notification, no local signal and an hour-long poll,
        // nothing arrives, so those tests really measure their wake-up path.
        await Broker.ConsumeAsync("orders");
        using var relay = Relay(TimeSpan.FromHours(1), listen: false);
        await relay.StartAsync();
        await WaitUntilIdleAsync();

        await EnqueueElsewhereAsync(PostgresSchema.Message("orders"), notify: false);
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.Empty(Broker.Received);
        await relay.StopAsync();
    }
}
