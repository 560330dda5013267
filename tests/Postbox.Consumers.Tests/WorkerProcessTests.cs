using Postbox.Consumers.Tests.Infrastructure;

namespace Postbox.Consumers.Tests;

/// <summary>Kill -9, SIGTERM and SIGTSTP against a real worker process (tests/Postbox.TestWorker).</summary>
public sealed class WorkerProcessTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    [Fact]
    public async Task Worker_KilledMidHandler_MessageProcessedAfterRestartEffectOnce()
    {
        var topic = TestBroker.NewTopic("kill");
        await Broker.DeclareAsync(topic);
        var id = Guid.CreateVersion7();
        await using (var worker = await WorkerProcess.StartAsync(Db, topic, delayMs: 60_000))
        {
            await Broker.PublishAsync(topic, id, new WorkItem("survives"));
            await worker.WaitForLineAsync($"STARTED {id}", Wait);
            await worker.SignalAsync("KILL");
            Assert.True(await worker.WaitForExitAsync(Wait));
        }

        Assert.Equal(0, await Db.EffectsAsync(id));
        await using (var worker = await WorkerProcess.StartAsync(Db, topic, delayMs: 0))
        {
            await worker.WaitForLineAsync($"DONE {id}", Wait);
            await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync(id) == 1, Wait, "effect committed");
            await worker.SignalAsync("TERM");
            Assert.True(await worker.WaitForExitAsync(Wait));
        }

        Assert.Equal(1, await Db.EffectsAsync(id));
        Assert.Equal(0u, await Broker.ReadyCountAsync(topic));
    }

    [Fact]
    public async Task Sigterm_WithInFlightHandlers_TheyFinishBeforeExit()
    {
        var topic = TestBroker.NewTopic("term");
        await Broker.DeclareAsync(topic);
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.CreateVersion7()).ToList();
        await using var worker = await WorkerProcess.StartAsync(Db, topic, delayMs: 2_000, shutdownMs: 15_000);
        foreach (var id in ids)
        {
            await Broker.PublishAsync(topic, id, new WorkItem("finish"));
        }

        foreach (var id in ids)
        {
            await worker.WaitForLineAsync($"STARTED {id}", Wait);
        }

        await worker.SignalAsync("TERM");
        Assert.True(await worker.WaitForExitAsync(Wait), worker.Output);
        Assert.Equal(0, worker.ExitCode);
        Assert.Equal(3, await Db.EffectsAsync());
        Assert.Equal(3, await Db.DistinctEffectsAsync());
        Assert.Equal(0u, await Broker.ReadyCountAsync(topic));
    }

    [Fact]
    public async Task Sigterm_HandlerOutlivesShutdownTimeout_HandedBackAndProcessedByNextWorker()
    {
        var topic = TestBroker.NewTopic("handback");
        await Broker.DeclareAsync(topic);
        var id = Guid.CreateVersion7();
        await using (var worker = await WorkerProcess.StartAsync(Db, topic, delayMs: 60_000, shutdownMs: 500))
        {
            await Broker.PublishAsync(topic, id, new WorkItem("handed back"));
            await worker.WaitForLineAsync($"STARTED {id}", Wait);
            await worker.SignalAsync("TERM");
            Assert.True(await worker.WaitForExitAsync(TimeSpan.FromSeconds(15)), worker.Output);
            Assert.Equal(0, worker.ExitCode);
        }

        Assert.Equal(0, await Db.EffectsAsync(id));
        Assert.Null(await Db.EntryAsync(id, "test-worker")); // not counted as a failed attempt
        Assert.Equal(1u, await Broker.ReadyCountAsync(topic));

        await using (var worker = await WorkerProcess.StartAsync(Db, topic, delayMs: 0))
        {
            await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync(id) == 1, Wait, "processed by the next worker");
        }

        Assert.Equal(1, await Db.EffectsAsync(id));
    }

    [Fact]
    public async Task Sigtstp_StopsNewIntakeWhileRunning_SigcontResumes()
    {
        var topic = TestBroker.NewTopic("tstp");
        await Broker.DeclareAsync(topic);
        await using var worker = await WorkerProcess.StartAsync(Db, topic, delayMs: 0);
        var first = Guid.CreateVersion7();
        await Broker.PublishAsync(topic, first, new WorkItem("before"));
        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync(first) == 1, Wait, "first processed");

        await worker.SignalAsync("TSTP");
        await worker.WaitForLineAsync("Intake paused (SIGTSTP)", Wait);
        var second = Guid.CreateVersion7();
        await Broker.PublishAsync(topic, second, new WorkItem("while paused"));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(worker.HasExited);
        Assert.Equal(0, await Db.EffectsAsync(second));
        Assert.Equal(1u, await Broker.ReadyCountAsync(topic));

        await worker.SignalAsync("CONT");
        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync(second) == 1, Wait, "processed after SIGCONT");
        await worker.SignalAsync("TERM");
        Assert.True(await worker.WaitForExitAsync(Wait));
    }
}
