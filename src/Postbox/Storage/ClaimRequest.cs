namespace Postbox.Storage;

/// <summary>Parameters of one claim: which relay, how many messages, until when, and where the last claim stopped.</summary>
/// <param name="Owner">The claiming relay's owner id; only this owner may settle the claimed messages.</param>
/// <param name="BatchSize">Maximum number of messages to claim, and of keys to look at (1 to 10,000).</param>
/// <param name="Now">The relay's current time: messages due at or before it are claimable.</param>
/// <param name="LeaseUntil">Lease expiry; after it any relay may claim the messages again.</param>
/// <param name="DeadMessagesBlockKey">
/// When <see langword="true"/>, a dead message holds back the later messages of its key until it is
/// replayed or deleted (see <see cref="Relay.DeadKeyPolicy"/>).
/// </param>
/// <param name="KeyCursor">
/// <see cref="ClaimResult.NextKeyCursor"/> of this relay's previous claim, or <see langword="null"/> to start from the
/// first key. Keys are visited round-robin from the cursor, so every key is looked at within a bounded number of claims
/// however many keys are blocked.
/// </param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public readonly record struct ClaimRequest(
    string Owner, int BatchSize, DateTimeOffset Now, DateTimeOffset LeaseUntil, bool DeadMessagesBlockKey, string? KeyCursor = null);
