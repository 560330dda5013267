using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Postbox.Diagnostics;

/// <summary>
/// Postbox's spans, named and tagged after OpenTelemetry's messaging semantic conventions: <c>create {topic}</c> at
/// enqueue, <c>send {topic}</c> in the relay, <c>process {topic}</c> in the consumers. One message's spans form one
/// trace: the create span is a child of the enqueuing code's activity and its context is stored in the row's
/// <c>traceparent</c> header; the send span is its child, and its own context replaces <c>traceparent</c> in what the
/// transport carries, so the process span is the send span's child.
/// </summary>
internal static class MessagingTracing
{
    /// <summary><c>messaging.system</c> of spans no transport names (the in-process transport, inbox retries).</summary>
    public const string DefaultSystem = "postbox";

    public const string System = "messaging.system";
    public const string OperationType = "messaging.operation.type";
    public const string OperationName = "messaging.operation.name";
    public const string DestinationName = "messaging.destination.name";
    public const string MessageId = "messaging.message.id";
    public const string BodySize = "messaging.message.body.size";
    public const string ConsumerGroup = "messaging.consumer.group.name";

    /// <summary>Seconds the message waited in the outbox, from its enqueue to this publish attempt (no semantic convention covers it).</summary>
    public const string OutboxWait = "postbox.outbox.wait_time";

    /// <summary>The attempt number, 1 for the first (publish attempts on send spans, handling attempts on process spans).</summary>
    public const string Attempt = "postbox.attempt";

    /// <summary>
    /// Stamps each message's <c>traceparent</c>: the context of a new <c>create {topic}</c> span when someone listens,
    /// else the current activity's (as before spans existed). A message that already carries a <c>traceparent</c> keeps
    /// its trace: its create span is that context's child. The returned scope ends the spans; dispose it after the write.
    /// </summary>
    public static CreateSpans StampCreation(IReadOnlyList<OutboxMessage> messages)
    {
        var source = PostboxActivitySource.Instance;
        var current = Activity.Current;
        if (!source.HasListeners())
        {
            if (current is not null)
            {
                foreach (var message in messages)
                {
                    if (message is not null && !message.Headers.ContainsKey(OutboxHeaders.TraceParent))
                    {
                        Stamp(message, current);
                    }
                }
            }

            return default;
        }

        var spans = new Activity?[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message is null || AlreadyCreated(message))
            {
                continue;
            }

            message.Headers.TryGetValue(OutboxHeaders.TraceParent, out var traceParent);
            message.Headers.TryGetValue(OutboxHeaders.TraceState, out var traceState);
            ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var parent);
            // A default parent means "the current activity"; an explicit one continues the message's own trace.
            var span = source.StartActivity($"create {message.Topic}", ActivityKind.Producer, parent);
            // Every span becomes Current when started: restore, so the spans are siblings and the caller's code
            // after enqueue is not attributed to the last message.
            Activity.Current = current;
            spans[i] = span;
            if (span is null)
            {
                if (current is not null && !message.Headers.ContainsKey(OutboxHeaders.TraceParent))
                {
                    Stamp(message, current);
                }

                continue;
            }

            span.SetTag(System, DefaultSystem);
            span.SetTag(OperationType, "create");
            span.SetTag(OperationName, "create");
            span.SetTag(DestinationName, message.Topic);
            span.SetTag(MessageId, message.Id.ToString());
            span.SetTag(BodySize, message.Payload.Length);
            Stamp(message, span);
            Created.AddOrUpdate(message, span.Id!);
        }

        return new CreateSpans(spans);
    }

    /// <summary>
    /// Messages whose <c>traceparent</c> is the context of a create span started here. A message is prepared more than
    /// once on some paths (EF Core validates the staged messages again at each stage, then enqueues them at
    /// <c>SaveChanges</c>; a caller may retry an enqueue); it keeps its first create span instead of chaining new ones.
    /// </summary>
    private static readonly ConditionalWeakTable<OutboxMessage, string> Created = new();

    private static bool AlreadyCreated(OutboxMessage message) =>
        Created.TryGetValue(message, out var created) && message.Headers.TryGetValue(OutboxHeaders.TraceParent, out var traceParent) &&
        string.Equals(created, traceParent, StringComparison.Ordinal);

    /// <summary>Starts the relay's <c>send {topic}</c> span for one publish attempt, a child of the message's creation context.</summary>
    public static Activity? StartSend(OutboxEnvelope message, DateTimeOffset now)
    {
        var source = PostboxActivitySource.Instance;
        if (!source.HasListeners())
        {
            return null;
        }

        ActivityContext.TryParse(
            message.Headers.GetValueOrDefault(OutboxHeaders.TraceParent),
            message.Headers.GetValueOrDefault(OutboxHeaders.TraceState),
            isRemote: true,
            out var parent);
        var activity = source.StartActivity($"send {message.Topic}", ActivityKind.Producer, parent);
        if (activity is not null)
        {
            // The transport overwrites messaging.system (and, for RabbitMQ, the destination with the exchange).
            activity.SetTag(System, DefaultSystem);
            activity.SetTag(OperationType, "send");
            activity.SetTag(OperationName, "send");
            activity.SetTag(DestinationName, message.Topic);
            activity.SetTag(MessageId, message.Id.ToString());
            activity.SetTag(BodySize, message.Payload.Length);
            activity.SetTag(Attempt, message.Attempts + 1);
            activity.SetTag(OutboxWait, Math.Max(0, (now - message.CreatedAt).TotalSeconds));
        }

        return activity;
    }

    /// <summary>
    /// The envelope the transport publishes: the stored one with <c>traceparent</c>/<c>tracestate</c> replaced by the
    /// send span's, so consumers continue from the publish (the stored row keeps the creation context for later attempts).
    /// </summary>
    public static OutboxEnvelope WithSendContext(OutboxEnvelope message, Activity? send)
    {
        if (send is null || send.Id is null)
        {
            return message;
        }

        var headers = new Dictionary<string, string>(message.Headers.Count + 1, StringComparer.Ordinal);
        foreach (var (name, value) in message.Headers)
        {
            headers[name] = value;
        }

        headers[OutboxHeaders.TraceParent] = send.Id;
        if (string.IsNullOrEmpty(send.TraceStateString))
        {
            headers.Remove(OutboxHeaders.TraceState);
        }
        else
        {
            headers[OutboxHeaders.TraceState] = send.TraceStateString;
        }

        return message with { Headers = headers };
    }

    private static void Stamp(OutboxMessage message, Activity activity)
    {
        message.Headers[OutboxHeaders.TraceParent] = activity.Id!;
        if (!string.IsNullOrEmpty(activity.TraceStateString))
        {
            message.Headers[OutboxHeaders.TraceState] = activity.TraceStateString;
        }
        else
        {
            message.Headers.Remove(OutboxHeaders.TraceState);
        }
    }

    /// <summary>The create spans of one enqueue; ended together once the write is done (or failed).</summary>
    internal readonly struct CreateSpans(Activity?[]? spans) : IDisposable
    {
        public void Failed(Exception error)
        {
            foreach (var span in spans ?? [])
            {
                span?.SetStatus(ActivityStatusCode.Error, error.Message);
            }
        }

        public void Dispose()
        {
            foreach (var span in spans ?? [])
            {
                span?.Dispose();
            }
        }
    }
}
