namespace Postbox.Monitoring;

/// <summary>Narrows a list or a bulk action. Every value is an exact match; <see langword="null"/> matches everything.</summary>
/// <param name="Topic">Only messages of this topic.</param>
/// <param name="Consumer">Inbox only: only rows of this consumer.</param>
/// <param name="Key">Only messages with this ordering key.</param>
public sealed record MessageFilter(string? Topic = null, string? Consumer = null, string? Key = null)
{
    /// <summary>Matches every message.</summary>
    public static MessageFilter None { get; } = new();
}
