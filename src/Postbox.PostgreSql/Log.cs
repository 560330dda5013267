using Microsoft.Extensions.Logging;

namespace Postbox.PostgreSql;

/// <summary>Source-generated log methods of the PostgreSQL store (event ids 4000–4099).</summary>
internal static partial class Log
{
    [LoggerMessage(4000, LogLevel.Information, "Applied migration {Version} ({Name}) to schema {Schema}.")]
    public static partial void MigrationApplied(ILogger logger, int version, string name, string schema);

    [LoggerMessage(4001, LogLevel.Warning, "Listening on {Channel} failed: {Reason}; reconnecting in {Delay} (polling continues meanwhile).")]
    public static partial void ListenFailed(ILogger logger, Exception? exception, string channel, TimeSpan delay, string reason);

    [LoggerMessage(4002, LogLevel.Information, "Listening on {Channel} again.")]
    public static partial void ListenResumed(ILogger logger, string channel);

    [LoggerMessage(4003, LogLevel.Debug, "UNLISTEN on {Channel} failed; the connection is discarded.")]
    public static partial void UnlistenFailed(ILogger logger, Exception exception, string channel);

    [LoggerMessage(4004, LogLevel.Information, "Moved Postbox's migration bookkeeping in schema {Schema} from {From} to {To} ({Count} rows), written there by an earlier Postbox build.")]
    public static partial void BookkeepingMoved(ILogger logger, string schema, string from, string to, int count);
}
