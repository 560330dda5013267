namespace Postbox.Monitoring;

/// <summary>Names one monitored message.</summary>
/// <param name="Id">The message id.</param>
/// <param name="Consumer">The consumer, for an inbox row (a message has one row per consumer); <see langword="null"/> for the outbox.</param>
public sealed record MessageRef(Guid Id, string? Consumer = null);
