namespace Postbox.Consumers;

/// <summary>
/// The answer of <see cref="IInboxStore.BeginInKeyOrderAsync"/>: an open transaction (run the handler), a blocked key
/// (park the message behind the earlier one), or neither (a duplicate).
/// </summary>
/// <param name="Transaction">The open inbox transaction, or <see langword="null"/>.</param>
/// <param name="KeyBlocked">
/// <see langword="true"/> when nothing was opened because an earlier message of the key is unfinished for the consumer.
/// </param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public readonly record struct KeyedInboxBegin(InboxTransaction? Transaction, bool KeyBlocked);
