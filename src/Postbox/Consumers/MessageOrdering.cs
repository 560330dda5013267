namespace Postbox.Consumers;

/// <summary>How a handler orders the messages it receives.</summary>
public enum MessageOrdering
{
    /// <summary>
    /// The default. Messages with the same <c>Key</c> are handled one after another, in the order they arrive (the
    /// enqueue order, see <c>docs/ordering.md</c>); different keys and keyless messages run in parallel up to
    /// <see cref="HandlerOptions.Concurrency"/>. A keyed message waiting for a retry holds back its key's later messages
    /// (they are parked in the inbox and run after it, in order); a dead one follows <see cref="HandlerOptions.DeadKeyPolicy"/>.
    /// </summary>
    ByKey = 0,

    /// <summary>
    /// Keys are ignored: up to <see cref="HandlerOptions.Concurrency"/> messages at once in any order, and a retrying
    /// message holds nothing back. For maximum throughput when the handler does not care about order.
    /// </summary>
    Unordered = 1,
}
