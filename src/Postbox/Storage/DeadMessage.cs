namespace Postbox.Storage;

/// <summary>A dead message as an operator sees it.</summary>
/// <param name="Id">Message id.</param>
/// <param name="Topic">Destination.</param>
/// <param name="Key">Ordering key, if any.</param>
/// <param name="Type">Message type, if any.</param>
/// <param name="Attempts">Attempts made.</param>
/// <param name="LastError">The last attempt's error.</param>
/// <param name="CreatedAt">Enqueue time.</param>
/// <param name="LastAttemptAt">Time of the last attempt.</param>
public sealed record DeadMessage(Guid Id, string Topic, string? Key, string? Type, int Attempts, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? LastAttemptAt);
