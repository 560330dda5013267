namespace Postbox.Storage;

/// <summary>Parameters of one claim: which relay, how many messages, until when.</summary>
/// <param name="Owner">The claiming relay's owner id; only this owner may settle the claimed messages.</param>
/// <param name="BatchSize">Maximum number of ready messages to claim.</param>
/// <param name="Now">The relay's current time: messages due at or before it are claimable.</param>
/// <param name="LeaseUntil">Lease expiry; after it any relay may claim the messages again.</param>
/// <param name="DeadMessagesBlockKey">
/// When <see langword="true"/>, a dead message holds back the later messages of its key until it is
/// replayed or deleted (see <see cref="Relay.DeadKeyPolicy"/>).
/// </param>
public readonly record struct ClaimRequest(string Owner, int BatchSize, DateTimeOffset Now, DateTimeOffset LeaseUntil, bool DeadMessagesBlockKey);
