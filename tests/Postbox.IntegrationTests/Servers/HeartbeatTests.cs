using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Monitoring;
using Postbox.PostgreSql.Monitoring;

namespace Postbox.IntegrationTests.Servers;

/// <summary>A real relay and worker on PostgreSQL writing their heartbeat rows: linked to their leases, removed on stop,
/// and a failing heartbeat never stopping the relay.</summary>
public sealed class HeartbeatTests : IAsyncLifetime
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(100);
    private readonly PostgresSchema _schema = new();

    public Task InitializeAsync() => _schema.InitializeAsync();

    public Task DisposeAsync() => _schema.DisposeAsync();

    [Fact]
    public async Task RelayRow_CarriesTheOwnerIdOfItsLeases_AndBothRowsGoOnGracefulStop()
    {
        var gate = new Gate();
        using var host = PostboxHost.Build(_schema,
            b => b.UseInMemoryTransport().UseInMemoryConsumerSource()
                .ConfigureConsumers(o => (o.HeartbeatInterval, o.HandleSignals, o.ShutdownTimeout) = (Heartbeat, false, TimeSpan.FromSeconds(1)))
                .AddHandler<string, BlockingHandler>("held", o => (o.ConsumerName, o.Concurrency) = ("held-consumer", 2)),
            o => (o.Relay.HeartbeatInterval, o.Relay.ShutdownTimeout) = (Heartbeat, TimeSpan.FromSeconds(1)),
            s => s.AddSingleton(gate));
        await host.StartAsync();
        var registry = host.Services.GetRequiredService<IServerRegistry>();

        // With the in-process transport the publish waits for the handler: the row stays in flight under the relay's lease.
        await _schema.EnqueueAsync([PostgresSchema.Message("held", body: "\"hello\"")]);
        await Until(async () => await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 3") == 1);
        var leaseOwner = await _schema.ScalarAsync<string>("SELECT lease_owner FROM {schema}.outbox WHERE state = 3");
        await Until(async () => (await registry.ListServersAsync(default)).Count == 2); // the first beats may land after the claim
        var servers = await registry.ListServersAsync(default);
        var relay = Assert.Single(servers, s => s.Role == ServerRole.Relay);
        Assert.Equal(leaseOwner, relay.OwnerId);
        var worker = Assert.Single(servers, s => s.Role == ServerRole.Worker);
        Assert.Equal([new ServerHandler("held", "held-consumer", 2)], worker.Handlers);
        Assert.Equal((Environment.MachineName, Environment.ProcessId), (worker.Host, worker.ProcessId));

        // Refreshed while running.
        var first = relay.HeartbeatAt;
        await Until(async () => (await registry.ListServersAsync(default)).Single(s => s.Role == ServerRole.Relay).HeartbeatAt > first);

        gate.Open();
        // Stop once the message is delivered: a publish still finishing during the stop is counted after the relay's
        // last beat was written (seen once in a loaded full run), and this test is about the beat at stop, not that race.
        await Until(async () => await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 1);
        await host.StopAsync();
        Assert.Empty(await registry.ListServersAsync(default));
        // The stop wrote the last counts too: the one message published and handled.
        var stats = await registry.GetStatsAsync(DateTimeOffset.UtcNow.AddMinutes(-5), default);
        Assert.Equal(1, stats.Where(s => s.Side == MessageSide.Outbox && s.Name == "held").Sum(s => s.Handled));
        Assert.Equal(1, stats.Where(s => s.Side == MessageSide.Inbox && s.Name == "held-consumer").Sum(s => s.Handled));
    }

    [Fact]
    public async Task Relay_WhenHeartbeatWritesFail_KeepsPublishing_AndLogsOneLinePerFailedBeat()
    {
        var logs = new LogCollector();
        var counting = new CountingRegistry(new PostgreSqlServerRegistry(_schema.DataSource, _schema.Options));
        var handled = new Handled();
        using var host = PostboxHost.Build(_schema,
            b => b.UseInMemoryTransport().UseInMemoryConsumerSource()
                .ConfigureConsumers(o => (o.HeartbeatInterval, o.HandleSignals, o.ShutdownTimeout) = (Heartbeat, false, TimeSpan.FromSeconds(1)))
                .AddHandler<string, CountingHandler>("work", o => o.ConsumerName = "work-consumer"),
            o => o.Relay.HeartbeatInterval = Heartbeat,
            s =>
            {
                s.AddSingleton(handled);
                s.Replace(ServiceDescriptor.Singleton<IServerRegistry>(counting));
                s.AddLogging(l => l.AddProvider(logs).AddFilter<LogCollector>(null, LogLevel.Information));
            });
        await host.StartAsync();
        await Until(() => Task.FromResult(counting.Succeeded >= 2));

        // The heartbeat tables go away (as if another tool dropped them): every beat fails from now on, for real.
        await _schema.ExecuteAsync("ALTER TABLE {schema}.servers RENAME TO servers_gone");
        await Until(() => Task.FromResult(counting.Failed >= 6));
        await _schema.EnqueueAsync([.. Enumerable.Range(0, 50).Select(i => PostgresSchema.Message("work", body: $"\"m{i}\""))]);
        await Until(() => Task.FromResult(handled.Count == 50));
        await Until(async () => await _schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 50);

        await _schema.ExecuteAsync("ALTER TABLE {schema}.servers_gone RENAME TO servers");
        await Until(() => Task.FromResult(logs.Count(1201) >= 2)); // relay and worker both back
        await host.StopAsync();

        // One line per failed beat, and nothing else from the heartbeats.
        Assert.Equal(counting.Failed, logs.Count(1200));
        Assert.Equal(0, logs.Count(1202) + logs.Count(1203));
        Assert.All(logs.Entries.Where(e => e.EventId == 1200), e => Assert.Contains("servers", e.Text, StringComparison.Ordinal));
        // The counts of the outage were kept and written once the table was back.
        var stats = await counting.GetStatsAsync(DateTimeOffset.UtcNow.AddMinutes(-5), default);
        Assert.Equal(50, stats.Where(s => s.Side == MessageSide.Outbox && s.Name == "work").Sum(s => s.Handled));
        Assert.Equal(50, stats.Where(s => s.Side == MessageSide.Inbox && s.Name == "work-consumer").Sum(s => s.Handled));
    }

    private static Task Until(Func<Task<bool>> condition) => Eventually.HoldsAsync(condition, TimeSpan.FromSeconds(30), "the condition held");

    public sealed class Gate
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task WaitAsync(CancellationToken cancellationToken) => _open.Task.WaitAsync(cancellationToken);

        public void Open() => _open.TrySetResult();
    }

    public sealed class BlockingHandler(Gate gate) : IMessageHandler<string>
    {
        public Task HandleAsync(string message, MessageContext context, CancellationToken cancellationToken) => gate.WaitAsync(cancellationToken);
    }

    public sealed class Handled
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Add() => Interlocked.Increment(ref _count);
    }

    public sealed class CountingHandler(Handled handled) : IMessageHandler<string>
    {
        public Task HandleAsync(string message, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add();
            return Task.CompletedTask;
        }
    }

    /// <summary>The real store, counting the heartbeats that failed and succeeded.</summary>
    private sealed class CountingRegistry(IServerRegistry inner) : IServerRegistry
    {
        private int _failed;
        private int _succeeded;

        public int Failed => Volatile.Read(ref _failed);

        public int Succeeded => Volatile.Read(ref _succeeded);

        public async Task BeatAsync(ServerHeartbeat heartbeat, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken)
        {
            try
            {
                await inner.BeatAsync(heartbeat, stats, cancellationToken);
                Interlocked.Increment(ref _succeeded);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failed);
                throw;
            }
        }

        public Task RemoveAsync(string ownerId, IReadOnlyCollection<StatsBucket> stats, CancellationToken cancellationToken) => inner.RemoveAsync(ownerId, stats, cancellationToken);

        public Task<int> PruneAsync(DateTimeOffset serversBefore, DateTimeOffset statsBefore, CancellationToken cancellationToken) =>
            inner.PruneAsync(serversBefore, statsBefore, cancellationToken);

        public Task<IReadOnlyList<ServerHeartbeat>> ListServersAsync(CancellationToken cancellationToken) => inner.ListServersAsync(cancellationToken);

        public Task<IReadOnlyList<StatsBucket>> GetStatsAsync(DateTimeOffset since, CancellationToken cancellationToken) => inner.GetStatsAsync(since, cancellationToken);
    }
}
