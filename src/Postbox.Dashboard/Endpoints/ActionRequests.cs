namespace Postbox.Dashboard;

/// <summary>Body of replay, retry-now and delete: the messages to act on.</summary>
/// <param name="Messages">At most 1,000 messages (id, and consumer for the inbox).</param>
internal sealed record MessagesRequest(IReadOnlyList<MessageRefBody>? Messages);

/// <summary>One message of an action.</summary>
/// <param name="Id">The message id.</param>
/// <param name="Consumer">The consumer (inbox).</param>
internal sealed record MessageRefBody(Guid Id, string? Consumer);

/// <summary>Body of replay-all: which dead messages (every filter optional).</summary>
/// <param name="Topic">Only this topic.</param>
/// <param name="Consumer">Only this consumer (inbox).</param>
/// <param name="Key">Only this key.</param>
internal sealed record ReplayAllRequest(string? Topic, string? Consumer, string? Key);

/// <summary>Body of pause and resume: the outbox topic or inbox consumer.</summary>
/// <param name="Name">The topic or consumer name.</param>
internal sealed record PauseRequest(string? Name);
