using Microsoft.Extensions.Logging;

namespace Postbox.PostgreSql.Consumers;

/// <summary>Source-generated log methods of the PostgreSQL inbox (event ids 4100–4199).</summary>
internal static partial class InboxLog
{
    [LoggerMessage(4100, LogLevel.Information, "Dead letter {MessageId} of {Consumer} replayed: due now with a fresh attempt budget.")]
    public static partial void Replayed(ILogger logger, Guid messageId, string consumer);

    [LoggerMessage(4101, LogLevel.Debug, "Replay of {MessageId} for {Consumer} changed nothing: it is not a dead letter.")]
    public static partial void ReplayIgnored(ILogger logger, Guid messageId, string consumer);
}
