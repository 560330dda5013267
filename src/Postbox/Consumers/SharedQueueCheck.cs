namespace Postbox.Consumers;

/// <summary>
/// Finds handlers that a transport would feed from one queue (RabbitMQ) or one consumer group on one topic (Kafka).
/// Such handlers compete: each message reaches only one of them, so each would silently miss the others' share.
/// </summary>
internal static class SharedQueueCheck
{
    /// <param name="handlers">The registered handlers.</param>
    /// <param name="sourceOf">The transport's name for what a handler consumes (a queue, a topic and group).</param>
    /// <param name="what">How the transport calls it, for the message ("queue", "consumer group").</param>
    /// <param name="errors">Receives one line per shared source.</param>
    /// <param name="remedy">What to do about it, ending the message.</param>
    public static void Validate(IEnumerable<HandlerRegistration> handlers, Func<HandlerRegistration, string> sourceOf, string what, List<string> errors,
        string remedy = "give each its own HandlerOptions.Queue")
    {
        foreach (var shared in handlers.GroupBy(sourceOf, StringComparer.Ordinal).Where(static g => g.Count() > 1))
        {
            var names = string.Join(", ", shared.Select(static h => $"{h.HandlerType.Name} ('{h.ConsumerName}' on '{h.Topic}')"));
            errors.Add($"Handlers {names} would consume the same {what} '{shared.Key}' and compete for its messages (each message would reach only one of them); {remedy}.");
        }
    }
}
