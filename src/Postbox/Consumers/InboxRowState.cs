namespace Postbox.Consumers;

/// <summary>
/// The values of the inbox table's <c>state</c> column, the same in every store, for SQL text (the inbox's counterpart
/// of <see cref="Storage.OutboxState"/>). They are the public <see cref="InboxState"/>'s numbers, so the two cannot
/// drift. They are stored data: never renumber them (no migration rewrites existing rows), and keep the migrations'
/// <c>CHECK</c> constraints and partial indexes, which spell them as numbers, in step.
/// </summary>
internal static class InboxRowState
{
    /// <summary>Handled: the handler's transaction committed (the dedupe record, kept until cleanup).</summary>
    public const int Processed = (int)InboxState.Processed;

    /// <summary>
    /// Waiting for its next attempt at <c>next_attempt_at</c> (leased while <c>lease_owner</c> is set), or parked behind
    /// an earlier message of its key (0 attempts).
    /// </summary>
    public const int Retrying = (int)InboxState.Retrying;

    /// <summary>A dead letter: its last attempt failed; kept with its error history until replayed.</summary>
    public const int Dead = (int)InboxState.Dead;
}
