namespace Postbox;

/// <summary>Names of the headers Postbox reads or writes.</summary>
public static class OutboxHeaders
{
    /// <summary>W3C trace context parent, filled at enqueue from <see cref="System.Diagnostics.Activity.Current"/>.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>W3C trace state, filled at enqueue when the current activity has one.</summary>
    public const string TraceState = "tracestate";

    /// <summary>Content type of the payload (set by <see cref="OutboxMessage.FromJson{T}"/>).</summary>
    public const string ContentType = "content-type";
}
