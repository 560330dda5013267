namespace Postbox.Storage;

/// <summary>
/// Turns what a store's claim saw into a <see cref="ClaimResult"/>, the same way for every store: where the next claim
/// resumes its round of keys and whether it should come back at once.
/// </summary>
internal static class ClaimProgress
{
    /// <summary>Builds the result of a claim.</summary>
    /// <param name="messages">The claimed messages in sequence order.</param>
    /// <param name="request">The claim's request.</param>
    /// <param name="lastDoneKey">
    /// The last key (in visiting order) up to which every key looked at was either not claimable or had all its collected
    /// messages claimed; <see langword="null"/> when the first key looked at still has messages waiting (or none was).
    /// </param>
    /// <param name="keysVisited">
    /// How many keys the claim looked at, counting one key past <see cref="ClaimRequest.BatchSize"/> when there is one (it
    /// is only looked at to learn that more keys are waiting; none of its messages is claimed).
    /// </param>
    /// <param name="parked">
    /// How many keyless messages of paused topics the claim parked instead of leasing; they took places in the batch, so
    /// a batch full of them also means "come back at once" (a paused backlog is parked a batch at a time, not waited on).
    /// </param>
    /// <returns>The result.</returns>
    public static ClaimResult Result(IReadOnlyList<OutboxEnvelope> messages, ClaimRequest request, string? lastDoneKey, int keysVisited, int parked = 0)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // No key looked at: there are no keyed messages pending, so start from the first key next time.
        // A first key with messages left over: resume at the same place, so it is looked at first next time.
        var next = keysVisited == 0 ? null : lastDoneKey ?? request.KeyCursor;
        var mayHaveMore = messages.Count + parked >= request.BatchSize || keysVisited > request.BatchSize;
        return new ClaimResult(messages, next, mayHaveMore) { Parked = parked };
    }
}
