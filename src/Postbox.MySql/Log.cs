using Microsoft.Extensions.Logging;

namespace Postbox.MySql;

/// <summary>Source-generated log methods of the MySQL store (event ids 4200–4299).</summary>
internal static partial class Log
{
    [LoggerMessage(4200, LogLevel.Information, "Applied migration {Version} ({Name}) to database {Database} (table prefix '{Prefix}').")]
    public static partial void MigrationApplied(ILogger logger, int version, string name, string database, string prefix);

    [LoggerMessage(4201, LogLevel.Information, "Replayed dead letter {MessageId} for {Consumer}: it will run again now with a fresh attempt budget.")]
    public static partial void Replayed(ILogger logger, Guid messageId, string consumer);

    [LoggerMessage(4202, LogLevel.Debug, "Replay of {MessageId} for {Consumer} changed nothing: it is not a dead letter.")]
    public static partial void ReplayIgnored(ILogger logger, Guid messageId, string consumer);
}
