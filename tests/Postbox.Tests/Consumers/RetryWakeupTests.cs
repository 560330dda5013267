using Microsoft.Extensions.Time.Testing;
using Postbox.Consumers;

namespace Postbox.Tests.Consumers;

public sealed class RetryWakeupTests
{
    [Fact]
    public async Task RetryDueSoon_EndsAnHourLongIdleWait()
    {
        var wakeup = new RetryWakeup(TimeProvider.System);
        var waiting = wakeup.WaitAsync(TimeSpan.FromHours(1), CancellationToken.None);
        wakeup.Schedule(DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(50));
        // Bounded only so a broken wake-up fails the test instead of hanging it.
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task NothingScheduled_WaitsItsIntervalAndSaysSo()
    {
        var wakeup = new RetryWakeup(TimeProvider.System);
        Assert.False(await wakeup.WaitAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None));
    }

    /// <summary>
    /// System timers count whole milliseconds and drop the fraction, so a timer set for a retry due in 50.4 ms fires
    /// at 50 ms, before the retry is due (seen once in CI: the wait ended saying "nothing due"). The wait must not end
    /// early; it waits the rest and reports the retry.
    /// </summary>
    [Fact]
    public async Task TimerFiringAFractionOfAMillisecondEarly_StillReportsTheRetry()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero));
        var wakeup = new RetryWakeup(new WholeMillisecondTimers(clock));
        var waiting = wakeup.WaitAsync(TimeSpan.FromHours(1), CancellationToken.None);
        wakeup.Schedule(clock.GetUtcNow() + TimeSpan.FromTicks(504_000)); // 50.4 ms

        clock.Advance(TimeSpan.FromMilliseconds(50));
        // Whatever the wait does at 50 ms, it does now; it must not have ended with "nothing due".
        var early = await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromMilliseconds(300)));
        Assert.True(early != waiting, "the wait ended before the retry was due");

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task Cancelled_EndsTheWaitWithoutAWakeup()
    {
        var clock = new FakeTimeProvider();
        var wakeup = new RetryWakeup(clock);
        using var cancel = new CancellationTokenSource();
        var waiting = wakeup.WaitAsync(TimeSpan.FromHours(1), cancel.Token);
        await cancel.CancelAsync();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>
    /// REVIEW (rev branch): two retries scheduled by this process, due at 1 s and at 5 s. The first wakes the scheduler;
    /// the second must wake it too at 5 s ("retries this process schedules wake it at their due time"), not be found
    /// only by the slow idle poll, up to IdleRetryPollInterval (10 s by default, up to an hour) late.
    /// </summary>
    [Fact]
    public async Task TwoRetriesScheduled_TheLaterOneStillWakesTheSchedulerAtItsDueTime()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero));
        var wakeup = new RetryWakeup(clock);
        var start = clock.GetUtcNow();
        wakeup.Schedule(start + TimeSpan.FromSeconds(1));
        wakeup.Schedule(start + TimeSpan.FromSeconds(5));

        var first = wakeup.WaitAsync(TimeSpan.FromHours(1), CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(60)));

        var second = wakeup.WaitAsync(TimeSpan.FromHours(1), CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(4));
        var ended = await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(ended == second, "the retry due at 5 s did not wake the scheduler");
        Assert.True(await second);
    }

    /// <summary>The fake clock, with timers that drop the fraction of a millisecond as the system's do.</summary>
    private sealed class WholeMillisecondTimers(FakeTimeProvider clock) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => clock.GetUtcNow();

        public override long GetTimestamp() => clock.GetTimestamp();

        public override long TimestampFrequency => clock.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            clock.CreateTimer(callback, state, Truncate(dueTime), Truncate(period));

        private static TimeSpan Truncate(TimeSpan span) =>
            span == Timeout.InfiniteTimeSpan ? span : TimeSpan.FromMilliseconds(Math.Floor(span.TotalMilliseconds));
    }
}
