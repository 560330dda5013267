using System.Globalization;
using Postbox.Storage;
using Xunit.Abstractions;

namespace Postbox.IntegrationTests.Model;

/// <summary>
/// Seeded, reproducible random schedules run against a real store and checked against a simple model after every step:
/// enqueues (keyed, keyless, delayed, bulk, in transactions left open, committed or rolled back), one to three relays
/// that claim, publish through a fault-injecting transport (per-topic failures switched on and off, a poison topic,
/// whole-transport outages) and settle, relays that crash holding leases or crash after publishing, relays too slow for
/// their lease, the clock moved, dead messages replayed, both <see cref="Postbox.Relay.DeadKeyPolicy"/> values. Invariants:
/// nothing lost, nothing published while its transaction was uncommitted, per-key order, no stall (a claim that finds
/// nothing while the model has a claimable message), no duplicate without a crash or an expired lease, settles change
/// exactly the rows the relay still owns.
/// </summary>
/// <remarks>
/// CI runs <see cref="DefaultSchedules"/> schedules per store; <c>POSTBOX_MODEL_SCHEDULES=5000</c> runs more, and
/// <c>POSTBOX_MODEL_SEED=N</c> replays the one schedule a failure printed. Subclass per store (PostgreSQL, SQLite, and any
/// later store) by providing <see cref="CreateStoreAsync"/>.
/// </remarks>
public abstract class OutboxModelTests
{
    public const int DefaultSchedules = 12;

    private readonly ITestOutputHelper _output;

    protected OutboxModelTests(ITestOutputHelper output) => _output = output;

    /// <summary>A fresh, empty, migrated store for one schedule.</summary>
    protected abstract Task<IModelStore> CreateStoreAsync();

    [Fact]
    public async Task RandomSchedules_KeepEveryInvariant()
    {
        var replay = Environment.GetEnvironmentVariable("POSTBOX_MODEL_SEED");
        var count = int.TryParse(Environment.GetEnvironmentVariable("POSTBOX_MODEL_SCHEDULES"), CultureInfo.InvariantCulture, out var n) ? n : DefaultSchedules;
        var seeds = replay is not null
            ? [int.Parse(replay, CultureInfo.InvariantCulture)]
            : Enumerable.Range(0, count).Select(i => 1000 + i).ToArray();

        var started = DateTime.UtcNow;
        var steps = 0;
        foreach (var seed in seeds)
        {
            await using var store = await CreateStoreAsync();
            await using var schedule = new ModelSchedule(seed, store);
            try
            {
                steps += await schedule.RunAsync();
            }
            catch (ModelViolationException ex)
            {
                throw new ModelViolationException(
                    $"{GetType().Name}: seed {seed} broke an invariant at step {schedule.Step} ({schedule.Describe()}). " +
                    $"Replay it with POSTBOX_MODEL_SEED={seed}.{Environment.NewLine}{ex.Message}{Environment.NewLine}Last steps:{Environment.NewLine}{schedule.Trace()}");
            }
        }

        _output.WriteLine($"{GetType().Name}: {seeds.Length} schedules, {steps} steps in {(DateTime.UtcNow - started).TotalSeconds:F1} s");
    }
}

/// <summary>A store under test, with what the model needs beyond the store contracts.</summary>
public interface IModelStore : IAsyncDisposable
{
    IOutboxStore Store { get; }

    IOutboxMonitor Monitor { get; }

    /// <summary>Whether a write transaction may stay open while relays claim (false for SQLite: one writer at a time).</summary>
    bool SupportsOpenTransactions { get; }

    /// <summary>Writes <paramref name="messages"/> in a new transaction and leaves it open.</summary>
    Task<IOpenTransaction> BeginEnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now);
}

/// <summary>An enqueue whose transaction is still open.</summary>
public interface IOpenTransaction : IAsyncDisposable
{
    Task CommitAsync();

    Task RollbackAsync();
}

public sealed class ModelViolationException(string message) : Exception(message);
