namespace Postbox.Monitoring;

/// <summary>One page of a list.</summary>
/// <param name="Items">The messages of the page.</param>
/// <param name="Next">Cursor of the next page (pass it as <see cref="MessageQuery.After"/>); <see langword="null"/> on the last page.</param>
public sealed record MessagePage(IReadOnlyList<MessageSummary> Items, string? Next);
