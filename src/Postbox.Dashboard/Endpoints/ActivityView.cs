using Postbox.Monitoring;

namespace Postbox.Dashboard;

/// <summary>What the overview's rates and charts show, computed from the stored per-minute buckets.</summary>
/// <param name="At">The time the view was computed for (UTC).</param>
/// <param name="Minutes">The chart's minutes, oldest first; the last is the current (partial) minute.</param>
/// <param name="Outbox">Per topic.</param>
/// <param name="Inbox">Per consumer.</param>
internal sealed record ActivityView(DateTimeOffset At, IReadOnlyList<DateTimeOffset> Minutes, IReadOnlyList<ActivitySeries> Outbox, IReadOnlyList<ActivitySeries> Inbox)
{
    /// <summary>The first minute of a chart of <paramref name="minutes"/> minutes ending with <paramref name="now"/>'s minute.</summary>
    public static DateTimeOffset FirstMinute(DateTimeOffset now, int minutes) => MinuteOf(now).AddMinutes(-(minutes - 1));

    public static ActivityView Build(IReadOnlyList<StatsBucket> buckets, DateTimeOffset now, int minutes)
    {
        var first = FirstMinute(now, minutes);
        var axis = Enumerable.Range(0, minutes).Select(i => first.AddMinutes(i)).ToList();
        IReadOnlyList<ActivitySeries> Side(MessageSide side) => [.. buckets.Where(b => b.Side == side && b.Minute >= first)
            .GroupBy(b => b.Name, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => ActivitySeries.Build(g.Key, g.ToList(), axis, now))];
        return new ActivityView(now, axis, Side(MessageSide.Outbox), Side(MessageSide.Inbox));
    }

    public static DateTimeOffset MinuteOf(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
}

/// <summary>One topic's or consumer's numbers.</summary>
/// <param name="Name">The topic or consumer.</param>
/// <param name="Handled">Per chart minute: published (outbox) or handled (inbox) messages.</param>
/// <param name="Failed">Per chart minute: failed attempts.</param>
/// <param name="Dead">Per chart minute: messages that went dead.</param>
/// <param name="LatencyAvgMs">Per chart minute: the mean latency of the handled messages (null without any).</param>
/// <param name="LatencyMaxMs">Per chart minute: the largest latency (null without any).</param>
/// <param name="Last1">Totals of the last whole minute and the current one so far.</param>
/// <param name="Last5">Totals of the last five whole minutes and the current one so far.</param>
internal sealed record ActivitySeries(string Name, long[] Handled, long[] Failed, long[] Dead, double?[] LatencyAvgMs, long?[] LatencyMaxMs,
    ActivityWindow Last1, ActivityWindow Last5)
{
    public static ActivitySeries Build(string name, List<StatsBucket> buckets, List<DateTimeOffset> axis, DateTimeOffset now)
    {
        var n = axis.Count;
        var (handled, failed, dead, sum, max) = (new long[n], new long[n], new long[n], new long[n], new long[n]);
        var index = axis.Select((m, i) => (m, i)).ToDictionary(p => p.m, p => p.i);
        foreach (var b in buckets)
        {
            if (index.TryGetValue(b.Minute, out var i))
            {
                handled[i] += b.Handled;
                failed[i] += b.Failed;
                dead[i] += b.Dead;
                sum[i] += b.LatencySumMs;
                max[i] = Math.Max(max[i], b.LatencyMaxMs);
            }
        }

        return new ActivitySeries(name, handled, failed, dead,
            [.. Enumerable.Range(0, n).Select(i => handled[i] > 0 ? Math.Round((double)sum[i] / handled[i], 1) : (double?)null)],
            [.. Enumerable.Range(0, n).Select(i => handled[i] > 0 ? max[i] : (long?)null)],
            ActivityWindow.Of(handled, failed, dead, 1, now, axis[^1]), ActivityWindow.Of(handled, failed, dead, 5, now, axis[^1]));
    }
}

/// <summary>
/// Totals over the last minutes of the chart: the <c>minutes</c> whole minutes before the current one and the current
/// one so far. A rate is a count divided by <paramref name="Seconds"/>; the error rate is failed / (handled + failed).
/// The whole minutes are there because the current minute's counts arrive up to a heartbeat interval late (10 s by
/// default): over the current minute alone the "1 min" rate read 0 for the first seconds of every minute, and a fraction
/// of the true rate for the rest, while messages flowed at a steady rate.
/// </summary>
/// <param name="Minutes">How many minutes (1 or 5).</param>
/// <param name="Seconds">The window's length: the whole minutes before plus the seconds of the current one (at least 1).</param>
/// <param name="Handled">Published or handled messages.</param>
/// <param name="Failed">Failed attempts.</param>
/// <param name="Dead">Messages that went dead.</param>
/// <param name="PerSecond">Handled per second.</param>
/// <param name="ErrorRate">Failed over all attempts that ended (0 to 1; 0 without any).</param>
internal sealed record ActivityWindow(int Minutes, double Seconds, long Handled, long Failed, long Dead, double PerSecond, double ErrorRate)
{
    public static ActivityWindow Of(long[] handled, long[] failed, long[] dead, int minutes, DateTimeOffset now, DateTimeOffset currentMinute)
    {
        var from = Math.Max(0, handled.Length - minutes - 1);
        var seconds = Math.Max(1, ((handled.Length - 1 - from) * 60) + (now - currentMinute).TotalSeconds);
        var (h, f, d) = (handled[from..].Sum(), failed[from..].Sum(), dead[from..].Sum());
        return new ActivityWindow(minutes, Math.Round(seconds, 3), h, f, d, Math.Round(h / seconds, 3), h + f == 0 ? 0 : Math.Round((double)f / (h + f), 4));
    }
}
