namespace Postbox.Monitoring;

/// <summary>A message as a list shows it.</summary>
/// <param name="Id">The message id.</param>
/// <param name="Consumer">The consumer (inbox rows); <see langword="null"/> for the outbox.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Key">The ordering key, if any.</param>
/// <param name="Type">The type name, if any.</param>
/// <param name="State">The state.</param>
/// <param name="Attempts">Attempts made since the message was written or last replayed.</param>
/// <param name="CreatedAt">When it was enqueued (outbox) or first received (inbox), UTC.</param>
/// <param name="NextAttemptAt">When it is due next (scheduled), or when its lease expires (in flight); otherwise <see langword="null"/>.</param>
/// <param name="FinishedAt">When it was delivered or processed (done) or dead-lettered (dead); otherwise <see langword="null"/>.</param>
/// <param name="LastError">The last attempt's error, if any.</param>
public sealed record MessageSummary(
    Guid Id,
    string? Consumer,
    string Topic,
    string? Key,
    string? Type,
    MessageState State,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? FinishedAt,
    string? LastError)
{
    /// <summary>The reference that names this message in actions.</summary>
    public MessageRef Ref => new(Id, Consumer);
}
