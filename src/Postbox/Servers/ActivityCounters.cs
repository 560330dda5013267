using Postbox.Monitoring;

namespace Postbox.Servers;

/// <summary>
/// This process's per-minute counts of one side (the relay's publishes, or the handlers' attempts), kept until the next
/// heartbeat writes them to the <c>stats</c> table. Fed by <c>PostboxMetrics</c> and <c>ConsumerMetrics</c> next to their
/// instruments, so the counts are the meter's counts.
/// </summary>
internal sealed class ActivityCounters(MessageSide side, TimeProvider timeProvider)
{
    // Counts that could not be written (the store is down) are kept this long, then dropped: the table forgets older
    // buckets anyway, and the memory stays bounded during a long outage.
    private static readonly TimeSpan KeepUnwritten = TimeSpan.FromHours(24);

    private readonly Lock _lock = new();
    private Dictionary<(long Minute, string Name), Bucket> _buckets = [];

    /// <summary>A message was published (outbox) or handled (inbox) after <paramref name="latency"/>.</summary>
    public void Handled(string name, TimeSpan latency)
    {
        var ms = Math.Max(0, (long)latency.TotalMilliseconds);
        lock (_lock)
        {
            var bucket = Get(name);
            bucket.Handled++;
            bucket.LatencySumMs += ms;
            bucket.LatencyMaxMs = Math.Max(bucket.LatencyMaxMs, ms);
        }
    }

    /// <summary>An attempt failed; <paramref name="dead"/> when it was the message's last.</summary>
    public void Failed(string name, bool dead)
    {
        lock (_lock)
        {
            var bucket = Get(name);
            bucket.Failed++;
            if (dead)
            {
                bucket.Dead++;
            }
        }
    }

    /// <summary>Takes every count so far (the next ones start from zero).</summary>
    public IReadOnlyList<StatsBucket> Take()
    {
        Dictionary<(long Minute, string Name), Bucket> taken;
        lock (_lock)
        {
            if (_buckets.Count == 0)
            {
                return [];
            }

            (taken, _buckets) = (_buckets, []);
        }

        return [.. taken.Select(p => new StatsBucket(SqlServerRegistry.FromMinute(p.Key.Minute), side, p.Key.Name, p.Value.Handled, p.Value.Failed,
            p.Value.Dead, p.Value.LatencySumMs, p.Value.LatencyMaxMs))];
    }

    /// <summary>Puts back counts whose write failed, so the next heartbeat writes them (older than a day: dropped).</summary>
    public void Restore(IReadOnlyList<StatsBucket> buckets)
    {
        var oldest = SqlServerRegistry.ToMinute(timeProvider.GetUtcNow() - KeepUnwritten);
        lock (_lock)
        {
            foreach (var b in buckets)
            {
                var minute = SqlServerRegistry.ToMinute(b.Minute);
                if (minute < oldest)
                {
                    continue;
                }

                if (!_buckets.TryGetValue((minute, b.Name), out var bucket))
                {
                    _buckets[(minute, b.Name)] = bucket = new Bucket();
                }

                bucket.Handled += b.Handled;
                bucket.Failed += b.Failed;
                bucket.Dead += b.Dead;
                bucket.LatencySumMs += b.LatencySumMs;
                bucket.LatencyMaxMs = Math.Max(bucket.LatencyMaxMs, b.LatencyMaxMs);
            }
        }
    }

    private Bucket Get(string name)
    {
        // The minute of the event, by this process's clock: a clock moved back or forth only changes which bucket counts.
        var key = (SqlServerRegistry.ToMinute(timeProvider.GetUtcNow()), name);
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            _buckets[key] = bucket = new Bucket();
        }

        return bucket;
    }

    private sealed class Bucket
    {
        public long Handled;
        public long Failed;
        public long Dead;
        public long LatencySumMs;
        public long LatencyMaxMs;
    }
}
