using System.Diagnostics;
using System.Diagnostics.Metrics;
using Postbox.Diagnostics;
using Postbox.Monitoring;
using Postbox.Servers;

namespace Postbox.Consumers;

/// <summary>The consumer runtime's instruments on the <c>Postbox</c> meter (created per service provider).</summary>
internal sealed class ConsumerMetrics
{
    private readonly Counter<long> _received;
    private readonly Counter<long> _succeeded;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _dead;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _parked;
    private readonly Histogram<double> _duration;

    public ConsumerMetrics(IMeterFactory meterFactory, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Activity = new ActivityCounters(MessageSide.Inbox, timeProvider ?? TimeProvider.System);
        var meter = meterFactory.Create(PostboxMetrics.MeterName);
        _received = meter.CreateCounter<long>("postbox.consumer.consumed", "{message}", "Handling attempts started (deliveries and retries).");
        _succeeded = meter.CreateCounter<long>("postbox.consumer.succeeded", "{message}", "Attempts whose handler transaction committed.");
        _failed = meter.CreateCounter<long>("postbox.consumer.failed", "{message}", "Attempts that failed (a retry is scheduled unless the message went dead).");
        _dead = meter.CreateCounter<long>("postbox.consumer.dead", "{message}", "Messages dead-lettered after their last attempt.");
        _duplicates = meter.CreateCounter<long>("postbox.consumer.duplicates", "{message}", "Deliveries acknowledged without running the handler (already recorded).");
        _parked = meter.CreateCounter<long>("postbox.consumer.parked", "{message}", "Keyed deliveries kept in the inbox behind an unfinished earlier message of their key.");
        _duration = meter.CreateHistogram<double>("postbox.consumer.handler.duration", "s", "Duration of one handling attempt, commit included.");
    }

    /// <summary>The same counts per consumer and minute, for the heartbeat's <c>stats</c> rows.</summary>
    public ActivityCounters Activity { get; }

    public void Received(HandlerRegistration handler) => _received.Add(1, handler.Tags);

    public void Succeeded(HandlerRegistration handler, TimeSpan duration)
    {
        _succeeded.Add(1, handler.Tags);
        _duration.Record(duration.TotalSeconds, handler.Tags);
        Activity.Handled(handler.ConsumerName, duration);
    }

    public void Failed(HandlerRegistration handler, TimeSpan duration, bool dead)
    {
        _failed.Add(1, handler.Tags);
        _duration.Record(duration.TotalSeconds, handler.Tags);
        Activity.Failed(handler.ConsumerName, dead);
        if (dead)
        {
            _dead.Add(1, handler.Tags);
        }
    }

    public void Duplicate(HandlerRegistration handler) => _duplicates.Add(1, handler.Tags);

    public void Parked(HandlerRegistration handler) => _parked.Add(1, handler.Tags);

    /// <summary>
    /// Starts the <c>process {topic}</c> span (kind Consumer), a child of the <c>traceparent</c> the message carries: the
    /// relay's send span (or, for a message published before spans were recorded, its creation context).
    /// </summary>
    public static Activity? StartProcessActivity(HandlerRegistration handler, Delivery delivery)
    {
        var source = PostboxActivitySource.Instance;
        if (!source.HasListeners())
        {
            return null;
        }

        ActivityContext.TryParse(delivery.Headers.GetValueOrDefault(OutboxHeaders.TraceParent), delivery.Headers.GetValueOrDefault(OutboxHeaders.TraceState),
            isRemote: true, out var parent);
        var activity = source.StartActivity($"process {handler.Topic}", ActivityKind.Consumer, parent);
        if (activity is not null)
        {
            activity.SetTag(MessagingTracing.System, delivery.MessagingSystem);
            activity.SetTag(MessagingTracing.OperationType, "process");
            activity.SetTag(MessagingTracing.OperationName, "process");
            activity.SetTag(MessagingTracing.DestinationName, handler.Topic);
            activity.SetTag(MessagingTracing.ConsumerGroup, handler.ConsumerName);
            activity.SetTag(MessagingTracing.MessageId, delivery.MessageId.ToString());
            activity.SetTag(MessagingTracing.BodySize, delivery.Payload.Length);
            activity.SetTag(MessagingTracing.Attempt, delivery.Attempt);
        }

        return activity;
    }
}
