namespace Postbox.Monitoring;

/// <summary>Everything stored about one message.</summary>
/// <param name="Summary">What a list shows.</param>
/// <param name="Headers">The headers (empty when none).</param>
/// <param name="Payload">The payload's first bytes, at most <see cref="IPostboxMonitor.MaxPayloadBytes"/>; empty when the store
/// no longer keeps it (an inbox row drops its payload copy once handled).</param>
/// <param name="PayloadLength">The payload's full length in bytes; <see langword="null"/> when not kept.</param>
/// <param name="MaxAttempts">The message's own attempt budget (outbox), if it has one.</param>
/// <param name="LeaseOwner">The relay or worker holding its lease, while in flight.</param>
/// <param name="Errors">The error history, oldest first. The outbox keeps only the last error (one entry, at the last
/// attempt's time); the inbox keeps the last 50.</param>
/// <param name="Replays">How many times it was replayed (inbox); 0 when the store does not count replays.</param>
public sealed record MessageDetail(
    MessageSummary Summary,
    IReadOnlyDictionary<string, string> Headers,
    ReadOnlyMemory<byte> Payload,
    int? PayloadLength,
    int? MaxAttempts,
    string? LeaseOwner,
    IReadOnlyList<AttemptError> Errors,
    int Replays);
