using System.Diagnostics.Metrics;
using Postbox.Monitoring;
using Postbox.Servers;

namespace Postbox.Diagnostics;

/// <summary>
/// The <c>Postbox</c> meter's instruments. Created through <see cref="IMeterFactory"/> so each service
/// provider (and each test host) has its own.
/// </summary>
internal sealed class PostboxMetrics
{
    /// <summary>The meter name, <c>Postbox</c>: add it to your meter provider.</summary>
    public const string MeterName = "Postbox";

    private readonly Counter<long> _published;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _dead;
    private readonly Histogram<double> _batchDuration;
    private readonly Histogram<double> _claimDuration;
    private long _oldestPendingTicks;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    /// <param name="meterFactory">The factory (registered by <c>AddMetrics</c>).</param>
    /// <param name="timeProvider">Clock for the age gauge.</param>
    public PostboxMetrics(IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        Activity = new ActivityCounters(MessageSide.Outbox, timeProvider);
        var meter = meterFactory.Create(MeterName);
        _published = meter.CreateCounter<long>("postbox.relay.published", "{message}", "Messages the broker confirmed.");
        _failed = meter.CreateCounter<long>("postbox.relay.failed", "{message}", "Publish attempts that failed (the message will be retried).");
        _dead = meter.CreateCounter<long>("postbox.relay.dead", "{message}", "Messages marked dead after their last attempt.");
        _batchDuration = meter.CreateHistogram<double>("postbox.relay.batch.duration", "s", "Time from claim to settle of one batch.");
        _claimDuration = meter.CreateHistogram<double>("postbox.relay.claim.duration", "s",
            "Time one claim statement took (the store round trip), empty claims included.");
        meter.CreateObservableGauge("postbox.outbox.oldest_pending.age", ObserveOldestPendingAge, "s",
            "Age of the oldest message not yet delivered (0 when none), refreshed every MonitorInterval.");
    }

    /// <summary>The same counts per topic and minute, for the heartbeat's <c>stats</c> rows.</summary>
    internal ActivityCounters Activity { get; }

    internal void Published(string topic, int count) => _published.Add(count, new KeyValuePair<string, object?>("messaging.destination.name", topic));

    /// <summary>One message confirmed, <paramref name="createdAt"/> being its enqueue time (the latency is enqueue to confirm).</summary>
    internal void Published(string topic, DateTimeOffset createdAt)
    {
        Published(topic, 1);
        Activity.Handled(topic, _timeProvider.GetUtcNow() - createdAt);
    }

    internal void Failed(string topic)
    {
        _failed.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", topic));
        Activity.Failed(topic, dead: false);
    }

    internal void Dead(string topic)
    {
        _dead.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", topic));
        Activity.Failed(topic, dead: true);
    }

    internal void BatchCompleted(TimeSpan duration) => _batchDuration.Record(duration.TotalSeconds);

    /// <summary>Records a claim; tagged by whether it found messages, so idle polls do not hide the cost of real claims.</summary>
    internal void ClaimCompleted(TimeSpan duration, int claimed) =>
        _claimDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("postbox.claim.empty", claimed == 0));

    internal void SetOldestPending(DateTimeOffset? createdAt) =>
        Interlocked.Exchange(ref _oldestPendingTicks, createdAt?.UtcTicks ?? 0);

    private double ObserveOldestPendingAge()
    {
        var ticks = Interlocked.Read(ref _oldestPendingTicks);
        if (ticks == 0)
        {
            return 0;
        }

        var age = _timeProvider.GetUtcNow().UtcTicks - ticks;
        return Math.Max(0, TimeSpan.FromTicks(age).TotalSeconds);
    }
}
