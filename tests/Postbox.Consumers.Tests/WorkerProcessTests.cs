using Postbox.Consumers.Tests.Infrastructure;

namespace Postbox.Consumers.Tests;

/// <summary>Kill -9, SIGTERM and SIGTSTP against a real worker process (tests/Postbox.TestWorker).</summary>
public sealed class WorkerProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TestDatabase _db = new();
    private readonly TestBroker _broker = new();

    public Task InitializeAsync() => _db.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task Worker_KilledMidHandler_MessageProcessedAfterRestartEffectOnce()
    {
        var topic = TestBroker.NewTopic("kill");
        await _broker.DeclareAsync(topic);
        var id = Guid.CreateVersion7();
        await using (var worker = await WorkerProcess.StartAsync(_db, topic, delayMs: 60_000))
        {
            await _broker.PublishAsync(topic, id, new WorkItem("survives"));
            await worker.WaitForLineAsync($"STARTED {id}", Wait);
            await worker.SignalAsync("KILL");
            Assert.True(await worker.WaitForExitAsync(Wait));
        }

        Assert.Equal(0, await _db.EffectsAsync(id));
        await using (var worker = await WorkerProcess.StartAsync(_db, topic, delayMs: 0))
        {
            await worker.WaitForLineAsync($"DONE {id}", Wait);
            await TestEnvironment.WaitUntilAsync(async () => await _db.EffectsAsync(id) == 1, Wait, "effect committed");
            await worker.SignalAsync("TERM");
            Assert.True(await worker.WaitForExitAsync(Wait));
        }

        Assert.Equal(1, await _db.EffectsAsync(id));
        Assert.Equal(0u, await _broker.ReadyCountAsync(topic));
    }

    [Fact]
    public async Task Sigterm_WithInFlightHandlers_TheyFinishBeforeExit()
    {
        var topic = TestBroker.NewTopic("term");
        await _broker.DeclareAsync(topic);
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.CreateVersion7()).ToList();
        await using var worker = await WorkerProcess.StartAsync(_db, topic, delayMs: 2_000, shutdownMs: 15_000);
        foreach (var id in ids)
        {
            await _broker.PublishAsync(topic, id, new WorkItem("finish"));
        }

        foreach (var id in ids)
        {
            await worker.WaitForLineAsync($"STARTED {id}", Wait);
        }

        await worker.SignalAsync("TERM");
        Assert.True(await worker.WaitForExitAsync(Wait), worker.Output);
        Assert.Equal(0, worker.ExitCode);
        Assert.Equal(3, await _db.EffectsAsync());
        Assert.Equal(3, await _db.DistinctEffectsAsync());
        Assert.Equal(0u, await _broker.ReadyCountAsync(topic));
    }

    [Fact]
    public async Task Sigterm_HandlerOutlivesShutdownTimeout_HandedBackAndProcessedByNextWorker()
    {
        var topic = TestBroker.NewTopic("handback");
        await _broker.DeclareAsync(topic);
        var id = Guid.CreateVersion7();
        await using (var worker = await WorkerProcess.StartAsync(_db, topic, delayMs: 60_000, shutdownMs: 500))
        {
            await _broker.PublishAsync(topic, id, new WorkItem("handed back"));
            await worker.WaitForLineAsync($"STARTED {id}", Wait);
            await worker.SignalAsync("TERM");
            Assert.True(await worker.WaitForExitAsync(TimeSpan.FromSeconds(15)), worker.Output);
            Assert.Equal(0, worker.ExitCode);
        }

        Assert.Equal(0, await _db.EffectsAsync(id));
        Assert.Null(await _db.EntryAsync(id, "test-worker")); // not counted as a failed attempt
        Assert.Equal(1u, await _broker.ReadyCountAsync(topic));

        await using (var worker = await WorkerProcess.StartAsync(_db, topic, delayMs: 0))
        {
            await TestEnvironment.WaitUntilAsync(async () => await _db.EffectsAsync(id) == 1, Wait, "processed by the next worker");
        }

        Assert.Equal(1, await _db.EffectsAsync(id));
    }

    [Fact]
    public async Task Sigtstp_StopsNewIntakeWhileRunning_SigcontResumes()
    {
        var topic = TestBroker.NewTopic("tstp");
        await _broker.DeclareAsync(topic);
        await using var worker = await WorkerProcess.StartAsync(_db, topic, delayMs: 0);
        var first = Guid.CreateVersion7();
        await _broker.PublishAsync(topic, first, new WorkItem("before"));
        await TestEnvironment.WaitUntilAsync(async () => await _db.EffectsAsync(first) == 1, Wait, "first processed");

        await worker.SignalAsync("TSTP");
        await worker.WaitForLineAsync("Intake paused (SIGTSTP)", Wait);
        var second = Guid.CreateVersion7();
        await _broker.PublishAsync(topic, second, new WorkItem("while paused"));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(worker.HasExited);
        Assert.Equal(0, await _db.EffectsAsync(second));
        Assert.Equal(1u, await _broker.ReadyCountAsync(topic));

        await worker.SignalAsync("CONT");
        await TestEnvironment.WaitUntilAsync(async () => await _db.EffectsAsync(second) == 1, Wait, "processed after SIGCONT");
        await worker.SignalAsync("TERM");
        Assert.True(await worker.WaitForExitAsync(Wait));
    }
}
