namespace Postbox.Consumers;

/// <summary>
/// The answer of <see cref="IInboxStore.BeginInKeyOrderAsync"/>: an open transaction (run the handler), a blocked key
/// (park the message behind the earlier one), or neither (a duplicate).
/// </summary>
/// <param name="Transaction">The open inbox transaction, or <see langword="null"/>.</param>
/// <param name="KeyBlocked">
/// <see langword="true"/> when nothing was opened because an earlier message of the key is unfinished for the consumer.
/// </param>
public readonly record struct KeyedInboxBegin(InboxTransaction? Transaction, bool KeyBlocked);
