using Microsoft.Extensions.Logging;

namespace Postbox.PostgreSql.Consumers;

/// <summary>Source-generated log methods of the PostgreSQL inbox (event ids 4100–4199).</summary>
internal static partial class InboxLog
{
    // One line per replay request, whatever its size: an operator replaying thousands must not flood the log.
    [LoggerMessage(4100, LogLevel.Information, "Replayed {Replayed} of {Requested} requested dead letters of {Consumer}: due now with a fresh attempt budget; the rest were not dead letters and were left alone.")]
    public static partial void Replayed(ILogger logger, int replayed, int requested, string consumer);
}
