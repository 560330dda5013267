namespace Postbox.Consumers;

/// <summary>Monitoring and operator actions on the inbox: inspect messages, list dead letters, replay them.</summary>
public interface IInboxAdmin
{
    /// <summary>The inbox row of <paramref name="messageId"/> for <paramref name="consumer"/>, or <see langword="null"/>.</summary>
    /// <param name="messageId">The message id.</param>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<InboxEntry?> GetAsync(Guid messageId, string consumer, CancellationToken cancellationToken = default);

    /// <summary>Dead letters, most recent first.</summary>
    /// <param name="consumer">Only this consumer's, or all when <see langword="null"/>.</param>
    /// <param name="limit">Maximum number returned.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<IReadOnlyList<InboxEntry>> GetDeadLettersAsync(string? consumer = null, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replays a dead letter: it becomes due at once with a fresh attempt budget; its error history is kept. Returns
    /// <see langword="false"/> when the message is not dead for that consumer.
    /// </summary>
    /// <param name="messageId">The message id.</param>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task<bool> ReplayAsync(Guid messageId, string consumer, CancellationToken cancellationToken = default);
}
