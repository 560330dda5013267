namespace Postbox.Sqlite;

/// <summary>Times are stored as UTC ticks: exact round trips and integer comparisons.</summary>
internal static class SqliteTime
{
    public static long ToTicks(DateTimeOffset value) => value.UtcTicks;

    public static DateTimeOffset FromTicks(long ticks) => new(ticks, TimeSpan.Zero);
}
