using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Postbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Postbox.IntegrationTests.Relay;

[CollectionDefinition(nameof(BrokerOutage), DisableParallelization = true)]
public sealed class BrokerOutage;

/// <summary>
/// Stops the RabbitMQ application, or raises its memory alarm, mid-drain; runs alone so no other test sees the outage.
/// A failure of the broker as a whole is not a message's failure: it costs no attempt, and the relay resumes as soon
/// as the broker is back.
/// </summary>
[Collection(nameof(BrokerOutage))]
public sealed class RelayBrokerOutageTests(ITestOutputHelper output) : ServerTest
{
    private const int TransportDownEvent = 1140;
    private const int TransportBackEvent = 1141;
    private const int PublishFailedEvent = 1003;

    // A publish charged an attempt because no confirm came within PublishTimeout is logged under its own id (one line).
    private const int PublishTimedOutEvent = 1020;

    [Fact]
    public async Task Relay_WhenBrokerStopsForTwentySecondsMidDrain_DeliversAllSoonAfterItReturns_WithoutChargingAnAttempt()
    {
        const int total = 5000;
        await Broker.ConsumeAsync("orders");
        var logs = new LogCollector();
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b), o => o.Relay.PollInterval = TimeSpan.FromMilliseconds(100),
            services => services.AddLogging(l => l.AddProvider(logs).AddFilter<LogCollector>(null, LogLevel.Information)));
        await relay.StartAsync();

        // A steady stream of 5,000 messages over about 20 s, so the relay is publishing when the broker stops and
        // messages keep arriving during the outage.
        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < total / 50; i++)
            {
                await Schema.EnqueueAsync([.. Enumerable.Range(0, 50).Select(_ => PostgresSchema.Message("orders"))]);
                await Task.Delay(80);
            }
        });

        await Eventually.HoldsAsync(async () => await Delivered() >= 300, TimeSpan.FromSeconds(30), "the drain is under way");
        Stopwatch returned;
        var startApp = Stopwatch.StartNew();
        long deliveredAtStop;
        try
        {
            await Rabbitmqctl("stop_app");
            deliveredAtStop = await Delivered();
            await Task.Delay(TimeSpan.FromSeconds(20));
        }
        finally
        {
            startApp = Stopwatch.StartNew();
            await Rabbitmqctl("start_app");
            await Rabbitmqctl("await_startup");
            returned = Stopwatch.StartNew();
        }

        await producer;
        Assert.True(deliveredAtStop < total, "The broker stopped before the drain was over.");
        await Eventually.HoldsAsync(async () => await Delivered() == total, TimeSpan.FromSeconds(60), "every message is delivered after the broker returns");
        var recovery = returned.Elapsed;
        var sinceStartApp = startApp.Elapsed;
        await relay.StopAsync();

        output.WriteLine($"Delivered before the stop: {deliveredAtStop} of {total}; all {total} delivered {recovery.TotalSeconds:0.00} s after the broker returned " +
            $"(rabbitmqctl await_startup answered), {sinceStartApp.TotalSeconds:0.00} s after start_app was issued.");
        foreach (var line in logs.Lines())
        {
            output.WriteLine(line);
        }

        // Nothing lost, nothing charged: each delivered row has exactly the attempt that delivered it and no error.
        Assert.Equal((long)total, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1 AND attempts = 1 AND last_error IS NULL"));
        Assert.Equal(0, logs.Count(PublishFailedEvent) + logs.Count(PublishTimedOutEvent));
        // One line when the broker went down and one when it came back, not one per message.
        Assert.Equal(1, logs.Count(TransportDownEvent));
        Assert.Equal(1, logs.Count(TransportBackEvent));
        Assert.DoesNotContain(logs.Entries, e => e.EventId == TransportDownEvent && e.HasException);
    }

    [Fact]
    public async Task Relay_UnderAMemoryAlarmMidDrain_WithAShortPublishTimeout_DuplicatesAtMostTheMessagesInFlight_AndLosesNone()
    {
        const int total = 3000;
        await Broker.ConsumeAsync("orders");
        var logs = new LogCollector();
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b), o => o.Relay.PublishTimeout = TimeSpan.FromSeconds(2),
            services => services.AddLogging(l => l.AddProvider(logs).AddFilter<LogCollector>(null, LogLevel.Information)));
        await relay.StartAsync();
        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < total / 50; i++)
            {
                await Schema.EnqueueAsync([.. Enumerable.Range(0, 50).Select(_ => PostgresSchema.Message("orders"))]);
                await Task.Delay(150);
            }
        });

        await Eventually.HoldsAsync(async () => await Delivered() >= 300, TimeSpan.FromSeconds(30), "the drain is under way");
        // The messages the relay holds (claimed, unconfirmed), sampled throughout: those in flight between the moment
        // the alarm is raised and the moment the relay learns of it are the most that may be published twice (the
        // broker stores them once it reads its socket again).
        var samples = new System.Collections.Concurrent.ConcurrentQueue<(DateTime At, long InFlight)>();
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                samples.Enqueue((DateTime.UtcNow, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 3")));
                await Task.Delay(20);
            }
        });
        DateTime alarmRaised;
        try
        {
            alarmRaised = DateTime.UtcNow;
            await Rabbitmqctl("set_vm_memory_high_watermark 0.000001");
            // Longer than the publish timeout, so publishes time out under the alarm.
            await Task.Delay(TimeSpan.FromSeconds(8));
        }
        finally
        {
            await Rabbitmqctl("set_vm_memory_high_watermark 0.4");
        }

        await stopSampling.CancelAsync();
        await sampler;
        await producer;
        await Eventually.HoldsAsync(async () => await Delivered() == total, TimeSpan.FromSeconds(60), "every message is delivered after the alarm clears");
        await Broker.WaitForAsync(total, TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(2)); // late copies
        await relay.StopAsync();

        var noticed = logs.Entries.Where(e => e.EventId is 3006 or TransportDownEvent).Select(e => e.At).DefaultIfEmpty(DateTime.MaxValue).Min();
        // The window is widened by a second each side: sampling every 20 ms can miss the peak between two samples, and a
        // bound taken from a missed sample would make the test fail by chance rather than by a fault.
        var inFlightAtAlarm = samples.Where(x => x.At >= alarmRaised.AddSeconds(-1) && x.At <= noticed.AddSeconds(1)).Select(x => x.InFlight).DefaultIfEmpty(0).Max();
        var received = Broker.Received.ToList();
        var distinct = received.Select(r => r.Id).Distinct().Count();
        var duplicates = received.Count - distinct;
        output.WriteLine($"{received.Count} deliveries of {distinct} messages: {duplicates} duplicates; {inFlightAtAlarm} in flight between raising the alarm ({alarmRaised:HH:mm:ss.fff}) and the relay noticing it ({noticed:HH:mm:ss.fff}).");
        foreach (var line in logs.Lines())
        {
            output.WriteLine(line);
        }

        Assert.Equal(total, distinct);
        Assert.True(duplicates <= inFlightAtAlarm, $"{duplicates} duplicates, more than the {inFlightAtAlarm} messages in flight when the alarm began.");
        Assert.Equal((long)total, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1 AND last_error IS NULL"));
        Assert.Equal(0, logs.Count(PublishFailedEvent) + logs.Count(PublishTimedOutEvent));
        Assert.True(logs.Count(TransportDownEvent) >= 1, "the alarm was seen as an outage");
    }

    private Task<long> Delivered() => Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1");

    private static async Task Rabbitmqctl(string command)
    {
        using var process = Process.Start(new ProcessStartInfo("rabbitmqctl", $"-q {command}") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"rabbitmqctl {command} failed: {await process.StandardError.ReadToEndAsync()}");
    }
}
