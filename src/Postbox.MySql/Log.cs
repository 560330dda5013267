using Microsoft.Extensions.Logging;

namespace Postbox.MySql;

/// <summary>Source-generated log methods of the MySQL store (event ids 4200–4299).</summary>
internal static partial class Log
{
    [LoggerMessage(4200, LogLevel.Information, "Applied migration {Version} ({Name}) to database {Database} (table prefix '{Prefix}').")]
    public static partial void MigrationApplied(ILogger logger, int version, string name, string database, string prefix);

    // One line per replay request, whatever its size: an operator replaying thousands must not flood the log.
    [LoggerMessage(4201, LogLevel.Information, "Replayed {Replayed} of {Requested} requested dead letters of {Consumer}: due now with a fresh attempt budget; the rest were not dead letters and were left alone.")]
    public static partial void Replayed(ILogger logger, int replayed, int requested, string consumer);
}
