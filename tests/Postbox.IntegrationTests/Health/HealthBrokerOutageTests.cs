using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.IntegrationTests.Relay;

namespace Postbox.IntegrationTests.Health;

/// <summary>
/// Stops the RabbitMQ application (the node <c>rabbitmqctl</c> targets: a private one when RABBITMQ_NODENAME says so);
/// runs alone, with the other broker-outage tests.
/// </summary>
[Collection(nameof(BrokerOutage))]
public sealed class HealthBrokerOutageTests : ServerTest
{
    [Fact]
    public async Task TransportAndOldestPendingChecks_WhileTheBrokerIsStopped_AreUnhealthy_TheRelayStaysLive_AndAllRecover()
    {
        const int transportDownEvent = 1140;
        await Broker.ConsumeAsync("orders");
        var logs = new LogCollector();
        using var host = PostboxHost.Build(Schema, b => Broker.UseIn(b),
            services: s =>
            {
                s.AddLogging(l => l.AddProvider(logs).AddFilter<LogCollector>(null, LogLevel.Information));
                s.AddHealthChecks().AddPostbox(o =>
                {
                    o.OldestPendingThreshold = TimeSpan.FromMinutes(1);
                    // Above the relay's 1 s poll, which is how often its loop checks in while it waits for the broker: a
                    // timeout equal to it failed by jitter (checked in 1.08 s ago).
                    o.RelayStallTimeout = TimeSpan.FromSeconds(3);
                    o.Timeout = TimeSpan.FromSeconds(2);
                });
            });
        await host.StartAsync();
        foreach (var name in new[] { PostboxHealthChecks.Store, PostboxHealthChecks.Transport, PostboxHealthChecks.OldestPending, PostboxHealthChecks.Relay })
        {
            await HealthCheckTests.ExpectAsync(host, name, HealthStatus.Healthy);
        }

        try
        {
            await Rabbitmqctl("stop_app");
            var down = await HealthCheckTests.ExpectAsync(host, PostboxHealthChecks.Transport, HealthStatus.Unhealthy);
            Assert.Contains("cannot publish", down.Description, StringComparison.Ordinal);

            // Enqueued ten minutes ago (as if it had waited all along): the relay cannot get it out.
            await Schema.EnqueueAsync([PostgresSchema.Message("orders")], DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10));
            await HealthCheckTests.ExpectAsync(host, PostboxHealthChecks.OldestPending, HealthStatus.Unhealthy);

            // The relay tried to publish it and now waits for the broker: that is its job, not a stall, so liveness holds
            // for longer than the stall timeout. The database is fine.
            await Eventually.HoldsAsync(() => Task.FromResult(logs.Count(transportDownEvent) > 0), TimeSpan.FromSeconds(30), "the relay saw the broker down");
            for (var i = 0; i < 10; i++)
            {
                var live = await HealthCheckTests.Live(host);
                Assert.True(live.Status == HealthStatus.Healthy, $"Liveness failed during the broker outage: {live.Entries[PostboxHealthChecks.Relay].Description}");
                await Task.Delay(500);
            }

            await HealthCheckTests.ExpectAsync(host, PostboxHealthChecks.Store, HealthStatus.Healthy);
        }
        finally
        {
            await Rabbitmqctl("start_app");
            await Rabbitmqctl("await_startup");
        }

        await HealthCheckTests.ExpectAsync(host, PostboxHealthChecks.Transport, HealthStatus.Healthy);
        await Broker.WaitForAsync(1, TimeSpan.FromSeconds(60));
        await HealthCheckTests.ExpectAsync(host, PostboxHealthChecks.OldestPending, HealthStatus.Healthy);
        await host.StopAsync();
    }

    private static async Task Rabbitmqctl(string command)
    {
        using var process = Process.Start(new ProcessStartInfo("rabbitmqctl", $"-q {command}") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"rabbitmqctl {command} failed: {await process.StandardError.ReadToEndAsync()}");
    }
}
