using System.Diagnostics;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Retry;

namespace Postbox.IntegrationTests.Relay;

[CollectionDefinition(nameof(BrokerOutage), DisableParallelization = true)]
public sealed class BrokerOutage;

/// <summary>Stops the RabbitMQ application mid-drain; runs alone so no other test sees the outage.</summary>
[Collection(nameof(BrokerOutage))]
public sealed class RelayBrokerOutageTests : ServerTest
{
    [Fact]
    public async Task Relay_WhenBrokerStopsAndReturns_RecordsTheFailures_AndDeliversEverythingAfterwards()
    {
        await Broker.ConsumeAsync("orders");
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b), o =>
        {
            o.Relay.MaxAttempts = 1000;
            o.Relay.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(500));
        });
        await relay.StartAsync();
        await Schema.EnqueueAsync([.. Enumerable.Range(0, 100).Select(_ => PostgresSchema.Message("orders"))]);
        await Broker.WaitForAsync(100, TimeSpan.FromSeconds(30));

        List<Guid> duringOutage;
        string? errors;
        try
        {
            await Rabbitmqctl("stop_app");
            duringOutage = [.. Enumerable.Range(0, 100).Select(_ => Guid.CreateVersion7())];
            await Schema.EnqueueAsync([.. duringOutage.Select(id => new OutboxMessage("orders", "{}"u8.ToArray()) { Id = id })]);
            await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE attempts > 0 AND state = 4") > 0,
                TimeSpan.FromSeconds(20), "failed attempts are recorded while the broker is down");
            errors = await Schema.ScalarAsync<string>("SELECT string_agg(DISTINCT last_error, ' | ') FROM {schema}.outbox WHERE last_error IS NOT NULL");
        }
        finally
        {
            await Rabbitmqctl("start_app");
            await Rabbitmqctl("await_startup");
        }

        Assert.False(string.IsNullOrEmpty(errors));
        // The test consumer reconnects by itself (automatic recovery); everything enqueued during the outage arrives.
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 200,
            TimeSpan.FromSeconds(90), "every message is delivered after the broker returns");
        await relay.StopAsync();
        Assert.Equal(0L, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state <> 1"));
    }

    private static async Task Rabbitmqctl(string command)
    {
        using var process = Process.Start(new ProcessStartInfo("rabbitmqctl", $"-q {command}") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"rabbitmqctl {command} failed: {await process.StandardError.ReadToEndAsync()}");
    }
}
