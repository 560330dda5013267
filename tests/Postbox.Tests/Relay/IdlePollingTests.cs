using Microsoft.Extensions.Time.Testing;
using Postbox.Relay;

namespace Postbox.Tests.Relay;

public sealed class IdlePollingTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(5);
    private const int Steady = IdlePolling.SteadyWaits;

    private static double[] Waits(IdlePolling polling, int count, bool listening = true) =>
        Enumerable.Range(0, count).Select(_ => polling.Next(listening).TotalSeconds).ToArray();

    [Fact]
    public void WhileListening_AfterTheSteadyWaits_EachEmptyWaitDoubles_UpToTheIdleInterval()
    {
        var polling = new IdlePolling(Poll, Idle, new FakeTimeProvider());

        var waits = Waits(polling, Steady + 5);

        Assert.Equal([.. Enumerable.Repeat(1.0, Steady), 2, 4, 5, 5, 5], waits);
    }

    [Fact]
    public void WithoutWakeups_TheWaitStaysAtThePollInterval_AndLosingThemMidwayStartsAgain()
    {
        var polling = new IdlePolling(Poll, Idle, new FakeTimeProvider());

        Assert.All(Waits(polling, 3 * Steady, listening: false), w => Assert.Equal(1.0, w));
        Waits(polling, Steady + 3);
        Assert.Equal(Poll, polling.Next(false)); // LISTEN lost: a commit may go unnoticed, so poll again at once
        Assert.Equal([.. Enumerable.Repeat(1.0, Steady), 2], Waits(polling, Steady + 1)); // and back off from the start once it is back
    }

    [Fact]
    public void Reset_StartsAgainAtThePollInterval()
    {
        var polling = new IdlePolling(Poll, Idle, new FakeTimeProvider());
        Waits(polling, Steady + 5);

        polling.Reset();

        Assert.Equal([.. Enumerable.Repeat(1.0, Steady), 2], Waits(polling, Steady + 1));
    }

    [Fact]
    public void APendingRetry_KeepsThePollInterval_UntilItIsDue()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero));
        var polling = new IdlePolling(Poll, Idle, clock);
        polling.RetryScheduled(clock.GetUtcNow() + TimeSpan.FromSeconds(30));
        polling.RetryScheduled(clock.GetUtcNow() + TimeSpan.FromSeconds(10)); // an earlier one does not shorten the span

        for (var i = 0; i < 29; i++)
        {
            Assert.Equal(Poll, polling.Next(true));
            clock.Advance(Poll);
        }

        clock.Advance(Poll);
        // Due now: the claim after this wait finds it (and a claimed message resets); found nothing, the wait backs off
        // again after the steady waits.
        Assert.Equal([.. Enumerable.Repeat(1.0, Steady), 2], Waits(polling, Steady + 1));
    }

    [Theory]
    [InlineData(5000, 1000)] // idle below poll: means poll
    [InlineData(1000, 1000)]
    [InlineData(100, 150)] // not a power of two of the poll: capped, not overshot
    public void TheWait_NeverExceedsTheLargerOfBothIntervals_NorFallsBelowThePoll(int pollMs, int idleMs)
    {
        var (poll, idle) = (TimeSpan.FromMilliseconds(pollMs), TimeSpan.FromMilliseconds(idleMs));
        var polling = new IdlePolling(poll, idle, new FakeTimeProvider());
        var cap = idle > poll ? idle : poll;

        var waits = Enumerable.Range(0, Steady + 10).Select(_ => polling.Next(true)).ToArray();

        Assert.All(waits, w => Assert.InRange(w, poll, cap));
        Assert.Equal(cap, waits[^1]);
    }

    /// <summary>
    /// Random interleavings of empty waits, wake-ups, lost and regained LISTEN, retries and time, against a model
    /// that states the rule plainly: the wait is the poll interval unless listening and no retry is pending, and
    /// otherwise, counting the empty waits since the last reset (or lost LISTEN, or pending retry) from 0, the poll
    /// interval for the first SteadyWaits and then min(poll × 2^(n − SteadyWaits + 1), idle).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Randomized_AgreesWithTheModel(int seed)
    {
        var random = new Random(seed);
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero));
        var (poll, idle) = (TimeSpan.FromMilliseconds(random.Next(10, 1000)), TimeSpan.FromMilliseconds(random.Next(10, 20_000)));
        var polling = new IdlePolling(poll, idle, clock);
        var cap = idle > poll ? idle : poll;
        var steps = 0; // empty waits in a row while listening with no retry pending
        var pendingUntil = DateTimeOffset.MinValue;
        for (var i = 0; i < 2_000; i++)
        {
            switch (random.Next(6))
            {
                case 0:
                    polling.Reset();
                    steps = 0;
                    break;
                case 1:
                    var due = clock.GetUtcNow() + TimeSpan.FromMilliseconds(random.Next(0, 5_000));
                    polling.RetryScheduled(due);
                    pendingUntil = due > pendingUntil ? due : pendingUntil;
                    break;
                case 2:
                    clock.Advance(TimeSpan.FromMilliseconds(random.Next(0, 3_000)));
                    break;
                default:
                    var listening = random.Next(5) > 0;
                    var wait = polling.Next(listening);
                    if (!listening || clock.GetUtcNow() < pendingUntil)
                    {
                        Assert.Equal(poll, wait);
                        steps = 0;
                    }
                    else
                    {
                        var expected = steps < Steady ? poll : poll * Math.Pow(2, Math.Min(steps - Steady + 1, 30));
                        Assert.Equal(expected < cap ? expected : cap, wait);
                        steps++;
                    }

                    clock.Advance(wait);
                    break;
            }
        }
    }
}
