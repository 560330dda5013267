using Microsoft.Extensions.Logging;
using Postbox.Monitoring;

namespace Postbox.Servers;

/// <summary>Log events of the relay's and the workers' heartbeats (1200–1209).</summary>
internal static partial class ServerLog
{
    // Expected failures (the database down) come without their exception: one line per failed heartbeat.
    [LoggerMessage(1200, LogLevel.Warning, "The {Role} {Owner} could not write its heartbeat: {Reason}. It keeps running and tries again in {Interval}.")]
    public static partial void HeartbeatFailed(ILogger logger, Exception? exception, ServerRole role, string owner, string reason, TimeSpan interval);

    [LoggerMessage(1201, LogLevel.Information, "The {Role} {Owner} writes its heartbeat again after {Failures} failed tries.")]
    public static partial void HeartbeatRecovered(ILogger logger, ServerRole role, string owner, int failures);

    [LoggerMessage(1202, LogLevel.Warning, "The {Role} {Owner} could not delete its heartbeat row on stop: {Reason}. The row shows as stale and is deleted after an hour.")]
    public static partial void RemoveFailed(ILogger logger, Exception? exception, ServerRole role, string owner, string reason);

    [LoggerMessage(1203, LogLevel.Warning, "Deleting old heartbeat rows and stats failed: {Reason}.")]
    public static partial void PruneFailed(ILogger logger, Exception? exception, string reason);
}
