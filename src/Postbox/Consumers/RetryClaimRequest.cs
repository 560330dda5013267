namespace Postbox.Consumers;

/// <summary>Parameters of one retry claim.</summary>
/// <param name="Consumers">The consumers whose retries this process runs.</param>
/// <param name="Owner">The claiming process.</param>
/// <param name="Limit">Maximum number of retries claimed.</param>
/// <param name="Now">Retries due at or before this are claimable.</param>
/// <param name="LeaseUntil">Lease expiry: a retry not finished by then is due again for any process.</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record RetryClaimRequest(IReadOnlyList<string> Consumers, string Owner, int Limit, DateTimeOffset Now, DateTimeOffset LeaseUntil)
{
    /// <summary>
    /// Consumers that order by key: of their keyed rows only a key's head is claimable — a row with no earlier
    /// (arrival order) retrying row of the same key and consumer, nor an earlier dead one when the consumer is also in
    /// <see cref="DeadBlockingConsumers"/>. Default: none.
    /// </summary>
    public IReadOnlyList<string> OrderedConsumers { get; init; } = [];

    /// <summary>Ordered consumers whose dead letters hold their key (<see cref="Relay.DeadKeyPolicy.Block"/>). Default: none.</summary>
    public IReadOnlyList<string> DeadBlockingConsumers { get; init; } = [];
}
