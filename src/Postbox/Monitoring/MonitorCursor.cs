using System.Globalization;

namespace Postbox.Monitoring;

/// <summary>
/// The keyset position of a list page: the sort time (UTC ticks, for lists ordered by a time column) and the row's
/// sequence number (arrival order, the tie-breaker). Written as <c>ticks.seq</c> (or <c>seq</c>), opaque to callers.
/// </summary>
/// <remarks>For provider authors implementing <see cref="IPostboxMonitor"/>.</remarks>
/// <param name="Ticks">UTC ticks of the sort column, or <see langword="null"/> for lists ordered by sequence alone.</param>
/// <param name="Seq">The sequence number of the last row of the page.</param>
public readonly record struct MonitorCursor(long? Ticks, long Seq)
{
    /// <summary>The text form given to callers.</summary>
    public override string ToString() => Ticks is { } ticks
        ? string.Create(CultureInfo.InvariantCulture, $"{ticks}.{Seq}")
        : Seq.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads a cursor written by <see cref="ToString"/>.</summary>
    /// <param name="text">The cursor, or <see langword="null"/> for the first page.</param>
    /// <param name="timeOrdered">Whether the list is ordered by a time column (then the cursor must carry ticks).</param>
    /// <exception cref="ArgumentException">The text is not a cursor of that kind of list.</exception>
    public static MonitorCursor? Parse(string? text, bool timeOrdered)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (timeOrdered && dot > 0
            && long.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            && ticks <= DateTimeOffset.MaxValue.UtcTicks)
        {
            return new MonitorCursor(ticks, seq);
        }

        if (!timeOrdered && dot < 0 && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var only))
        {
            return new MonitorCursor(null, only);
        }

        throw new ArgumentException($"'{text}' is not a cursor of this list.", nameof(text));
    }
}
