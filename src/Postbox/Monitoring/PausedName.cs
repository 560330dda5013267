namespace Postbox.Monitoring;

/// <summary>One paused outbox topic or inbox consumer (see <see cref="IPostboxPauses"/>).</summary>
/// <param name="Side">Outbox (a topic) or inbox (a consumer).</param>
/// <param name="Name">The topic or consumer name.</param>
/// <param name="PausedAt">When it was paused (UTC).</param>
/// <param name="PausedBy">Who paused it, when known.</param>
public sealed record PausedName(MessageSide Side, string Name, DateTimeOffset PausedAt, string? PausedBy);
