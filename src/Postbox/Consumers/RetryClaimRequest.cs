namespace Postbox.Consumers;

/// <summary>Parameters of one retry claim.</summary>
/// <param name="Consumers">The consumers whose retries this process runs.</param>
/// <param name="Owner">The claiming process.</param>
/// <param name="Limit">Maximum number of retries claimed.</param>
/// <param name="Now">Retries due at or before this are claimable.</param>
/// <param name="LeaseUntil">Lease expiry: a retry not finished by then is due again for any process.</param>
public sealed record RetryClaimRequest(IReadOnlyList<string> Consumers, string Owner, int Limit, DateTimeOffset Now, DateTimeOffset LeaseUntil);
