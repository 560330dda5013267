namespace Postbox.Consumers;

/// <summary>One handling attempt's input: a broker delivery (no owner) or a claimed retry (with its lease owner), and which transport brought it (for traces).</summary>
internal readonly record struct Delivery(
    Guid MessageId,
    string Topic,
    string? Key,
    string? Type,
    ReadOnlyMemory<byte> Payload,
    IReadOnlyDictionary<string, string> Headers,
    bool Redelivered,
    int Attempt,
    string? Owner,
    string MessagingSystem = Diagnostics.MessagingTracing.DefaultSystem);
