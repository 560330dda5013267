using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Postbox.Diagnostics;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// In the relay child: records, on the shared monotonic clock (Stopwatch ticks are CLOCK_MONOTONIC, one clock for all
/// processes on the machine), when each claim statement returned and how long it took (the <c>postbox.relay.claim.duration</c>
/// histogram) and when each message's <c>send</c> span started and ended (publish handed to the transport, broker
/// confirm). Through the public meter and activity source only, as any user's listener would; listening turns the
/// relay's tracing on, so the stage pass runs separately from the headline latency pass.
/// </summary>
internal sealed class StageRecorder : IDisposable
{
    private readonly ConcurrentQueue<(long End, double Seconds)> _claims = new();
    private readonly ConcurrentQueue<long> _emptyClaims = new();
    private readonly ConcurrentDictionary<Activity, long> _started = new();
    private readonly ConcurrentQueue<(string Id, long Start, long End)> _sends = new();
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _activities;

    public StageRecorder()
    {
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Postbox" && instrument.Name == "postbox.relay.claim.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<double>((_, seconds, tags, _) =>
        {
            var end = Stopwatch.GetTimestamp();
            foreach (var tag in tags)
            {
                if (tag.Key == "postbox.claim.empty" && tag.Value is true)
                {
                    _emptyClaims.Enqueue(end); // Counted only: a claim that found nothing published nothing.
                    return;
                }
            }

            _claims.Enqueue((end, seconds));
        });
        _meters.Start();
        _activities = new ActivityListener
        {
            ShouldListenTo = static source => source.Name == PostboxActivitySource.Name,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStarted = activity =>
            {
                if (activity.Kind == ActivityKind.Producer && activity.OperationName.StartsWith("send ", StringComparison.Ordinal))
                {
                    _started[activity] = Stopwatch.GetTimestamp();
                }
            },
            ActivityStopped = activity =>
            {
                // The message id tag is set after the span starts, so it is read here.
                if (_started.TryRemove(activity, out var start) && activity.GetTagItem("messaging.message.id") is string id)
                {
                    _sends.Enqueue((id, start, Stopwatch.GetTimestamp()));
                }
            },
        };
        ActivitySource.AddActivityListener(_activities);
    }

    /// <summary>Writes <c>C end seconds</c>, <c>E end</c> (an empty claim) and <c>S id start end</c> lines.</summary>
    public void Write(string path)
    {
        using var writer = new StreamWriter(path);
        foreach (var (end, seconds) in _claims)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"C\t{end}\t{seconds:R}"));
        }

        foreach (var end in _emptyClaims)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"E\t{end}"));
        }

        foreach (var (id, start, end) in _sends)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"S\t{id}\t{start}\t{end}"));
        }
    }

    public void Dispose()
    {
        _meters.Dispose();
        _activities.Dispose();
    }
}

/// <summary>
/// Splits each message's commit → handler latency into stages, from the relay child's <see cref="StageRecorder"/> file
/// and the producer's and consumer's stamps: waiting for a claim to start (wake-up, poll, the previous claim, the
/// in-flight budget), the claim statement, claim → publish handed to the transport (batch dispatch), publish → broker
/// confirm, and publish → handler (broker routing and delivery). The message's claim is the last non-empty claim that
/// returned before its publish started.
/// </summary>
internal static class StageBreakdown
{
    public static readonly string[] Names =
    [
        "commit → claim start (wake-up, poll, earlier claim, budget)",
        "claim statement",
        "claim returned → publish sent",
        "publish → broker confirm",
        "publish → handler",
        "commit → handler (total)",
    ];

    /// <summary>
    /// Per stage, the sorted latencies in ms, the mean of each stage over the slowest 1 % of messages, and the relay's
    /// claims per second (all, and those that found nothing) between the first measured commit and the last measured
    /// handler call.
    /// </summary>
    public static (double[][] Sorted, double[] TailMeans, int Matched, ClaimRate Claims) Analyze(string path, LatencyTracker tracker, int from)
    {
        var claims = new List<(long End, double Seconds)>();
        var emptyClaims = new List<long>();
        var sends = new Dictionary<Guid, (long Start, long End)>();
        foreach (var line in File.ReadLines(path))
        {
            var f = line.Split('\t');
            if (f[0] == "C")
            {
                claims.Add((long.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[2], CultureInfo.InvariantCulture)));
            }
            else if (f[0] == "E")
            {
                emptyClaims.Add(long.Parse(f[1], CultureInfo.InvariantCulture));
            }
            else if (f[0] == "S" && Guid.TryParse(f[1], out var id))
            {
                var send = (long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture));
                // A message published twice (a retry) counts from its first publish.
                if (!sends.TryGetValue(id, out var earlier) || send.Item1 < earlier.Start)
                {
                    sends[id] = send;
                }
            }
        }

        claims.Sort(static (a, b) => a.End.CompareTo(b.End));
        var claimEnds = claims.Select(static c => c.End).ToArray();
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var rows = new List<double[]>();
        var (windowStart, windowEnd) = (long.MaxValue, long.MinValue);
        for (var i = from; i < tracker.Ids.Length; i++)
        {
            var (committed, handled) = (tracker.SentAt(i), tracker.ReceivedAt(i));
            if (committed == 0 || handled == 0 || !sends.TryGetValue(tracker.Ids[i], out var send))
            {
                continue;
            }

            (windowStart, windowEnd) = (Math.Min(windowStart, committed), Math.Max(windowEnd, handled));

            var c = Array.BinarySearch(claimEnds, send.Start);
            c = c >= 0 ? c : ~c - 1;
            if (c < 0)
            {
                continue;
            }

            var (claimEnd, claimSeconds) = claims[c];
            var claimStart = claimEnd - (long)(claimSeconds * Stopwatch.Frequency);
            rows.Add(
            [
                Math.Max(0, Ms(claimStart - committed)),
                claimSeconds * 1000,
                Math.Max(0, Ms(send.Start - claimEnd)),
                Ms(send.End - send.Start),
                Math.Max(0, Ms(handled - send.Start)),
                Math.Max(0, Ms(handled - committed)),
            ]);
        }

        var sorted = Enumerable.Range(0, Names.Length).Select(s => rows.Select(r => r[s]).Order().ToArray()).ToArray();
        var tail = rows.OrderByDescending(static r => r[^1]).Take(Math.Max(1, rows.Count / 100)).ToList();
        var tailMeans = Enumerable.Range(0, Names.Length).Select(s => tail.Count == 0 ? double.NaN : tail.Average(r => r[s])).ToArray();
        var seconds = windowEnd > windowStart ? (windowEnd - windowStart) / (double)Stopwatch.Frequency : double.NaN;
        var found = claims.Count(c => c.End >= windowStart && c.End <= windowEnd);
        var empty = emptyClaims.Count(e => e >= windowStart && e <= windowEnd);
        return (sorted, tailMeans, rows.Count, new ClaimRate((found + empty) / seconds, empty / seconds, found == 0 ? double.NaN : rows.Count / (double)found));
    }
}

/// <summary>The relay's claims per second during a latency pass, those that found nothing, and messages per claim that found some.</summary>
internal readonly record struct ClaimRate(double PerSecond, double EmptyPerSecond, double MessagesPerClaim);
