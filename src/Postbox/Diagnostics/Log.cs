using Microsoft.Extensions.Logging;

namespace Postbox.Diagnostics;

/// <summary>Source-generated log methods of the core, with stable event ids (1xxx relay, 2xxx producer).</summary>
internal static partial class Log
{
    [LoggerMessage(1014, LogLevel.Debug, "Published {Count} messages: [{MessageIds}]")]
    public static partial void BatchPublished(ILogger logger, int count, string messageIds);

    [LoggerMessage(1000, LogLevel.Information, "Relay {Owner} started (batches of up to {BatchSize}, at most {MaxInFlightMessages} claimed messages unsettled at once, poll every {PollInterval}, up to every {IdlePollInterval} while idle with wake-ups).")]
    public static partial void RelayStarted(ILogger logger, string owner, int batchSize, int maxInFlightMessages, TimeSpan pollInterval, TimeSpan idlePollInterval);

    [LoggerMessage(1001, LogLevel.Information, "Relay {Owner} stopped.")]
    public static partial void RelayStopped(ILogger logger, string owner);

    // Expected failures (the database down or locked, the pool exhausted) are logged without their exception: one line.
    [LoggerMessage(1002, LogLevel.Warning, "Claiming messages failed: {Reason}; retrying in {Delay}.")]
    public static partial void ClaimFailed(ILogger logger, Exception? exception, string reason, TimeSpan delay);

    [LoggerMessage(1003, LogLevel.Warning, "Publishing message {MessageId} to {Topic} failed (attempt {Attempt} of {MaxAttempts}); next attempt at {NextAttemptAt}.")]
    public static partial void PublishFailed(ILogger logger, Exception exception, Guid messageId, string topic, int attempt, int maxAttempts, DateTimeOffset nextAttemptAt);

    // A publish without a confirm in time is an expected failure (a slow broker, or with the in-process transport a
    // handler slower than the timeout): one line with the reason and the next attempt, no stack trace.
    [LoggerMessage(1020, LogLevel.Warning, "Publishing message {MessageId} to {Topic} got no confirm within {PublishTimeout} (attempt {Attempt} of {MaxAttempts}); next attempt at {NextAttemptAt}. With the in-process transport the confirm waits for the handler: keep Postbox:Relay:PublishTimeout above the handlers' run time.")]
    public static partial void PublishTimedOut(ILogger logger, Guid messageId, string topic, TimeSpan publishTimeout, int attempt, int maxAttempts, DateTimeOffset nextAttemptAt);

    [LoggerMessage(1021, LogLevel.Error, "Message {MessageId} to {Topic} is dead after attempt {Attempt}: no confirm within {PublishTimeout}; it is kept and can be replayed.")]
    public static partial void MessageDeadAfterTimeout(ILogger logger, Guid messageId, string topic, int attempt, TimeSpan publishTimeout);

    [LoggerMessage(1004, LogLevel.Error, "Message {MessageId} to {Topic} is dead after attempt {Attempt}; it is kept and can be replayed.")]
    public static partial void MessageDead(ILogger logger, Exception exception, Guid messageId, string topic, int attempt);

    [LoggerMessage(1005, LogLevel.Warning, "Recording the outcome of {Count} messages failed (try {Try}): {Reason}; retrying.")]
    public static partial void SettleFailed(ILogger logger, Exception? exception, int count, int @try, string reason);

    [LoggerMessage(1006, LogLevel.Error, "Could not record the outcome of {Count} messages ({Reason}); their leases will expire and they will be published again (at-least-once).")]
    public static partial void SettleAbandoned(ILogger logger, Exception? exception, int count, string reason);

    [LoggerMessage(1007, LogLevel.Warning, "{Lost} of {Count} messages were no longer leased by {Owner} when settling; another relay took them over.")]
    public static partial void LeaseLost(ILogger logger, int lost, int count, string owner);

    [LoggerMessage(1008, LogLevel.Warning, "Outbox cleanup failed: {Reason}; retrying at the next interval.")]
    public static partial void CleanupFailed(ILogger logger, Exception? exception, string reason);

    [LoggerMessage(1009, LogLevel.Debug, "Cleanup deleted {Count} delivered messages.")]
    public static partial void CleanupDeleted(ILogger logger, int count);

    [LoggerMessage(1010, LogLevel.Warning, "Reading the oldest pending message failed: {Reason}.")]
    public static partial void MonitorFailed(ILogger logger, Exception? exception, string reason);

    [LoggerMessage(1011, LogLevel.Warning, "Cross-process wake-ups stopped; polling continues.")]
    public static partial void WakeupSourceFailed(ILogger logger, Exception exception);

    [LoggerMessage(1012, LogLevel.Information, "Shutdown timeout reached with {Count} batches in flight; unconfirmed messages are handed back.")]
    public static partial void ShutdownTimedOut(ILogger logger, int count);

    [LoggerMessage(1013, LogLevel.Information, "Applying Postbox migrations on start-up.")]
    public static partial void MigratingOnStart(ILogger logger);

    // 1090–1099: the store as a whole (kept apart from the ids the transport-outage work adds).
    [LoggerMessage(1090, LogLevel.Debug, "Claiming messages failed again ({Failures} in a row): {Reason}; retrying in {Delay}.")]
    public static partial void ClaimFailedAgain(ILogger logger, Exception? exception, string reason, int failures, TimeSpan delay);

    [LoggerMessage(1091, LogLevel.Information, "Claiming messages works again after {Failures} failed tries over {Duration}.")]
    public static partial void ClaimRecovered(ILogger logger, int failures, TimeSpan duration);

    [LoggerMessage(1140, LogLevel.Warning, "The transport is unavailable ({Reason}); the relay stops claiming, hands back what it holds without charging an attempt, and probes until it is back.")]
    public static partial void TransportDown(ILogger logger, string reason);

    [LoggerMessage(1141, LogLevel.Information, "The transport is back after {Duration}; {HandedBack} messages were handed back without an attempt and are published again.")]
    public static partial void TransportBack(ILogger logger, TimeSpan duration, int handedBack);

    [LoggerMessage(1142, LogLevel.Debug, "The transport is still unavailable: {Reason}")]
    public static partial void TransportProbeFailed(ILogger logger, string reason);

    [LoggerMessage(1143, LogLevel.Warning, "The transport was reachable again at once after failing (a flap: the connection was closed, not lost); the {Count} messages in flight are suspected of breaking it, and one caught in two flaps is published alone.")]
    public static partial void TransportFlapped(ILogger logger, int count);

    [LoggerMessage(1144, LogLevel.Warning, "Preparing the topology of {Count} topics failed; their publishes retry it.")]
    public static partial void PrepareFailed(ILogger logger, Exception exception, int count);
}
