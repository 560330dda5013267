using Microsoft.Extensions.Logging;

namespace Postbox.Consumers;

/// <summary>Source-generated log methods of the consumer runtime (event ids 5000–5099).</summary>
internal static partial class ConsumerLog
{
    [LoggerMessage(5000, LogLevel.Information, "Consumer {Consumer} subscribed to {Topic} (concurrency {Concurrency}, timeout {Timeout}, at most {MaxAttempts} attempts).")]
    public static partial void Subscribed(ILogger logger, string consumer, string topic, int concurrency, TimeSpan timeout, int maxAttempts);

    [LoggerMessage(5001, LogLevel.Warning, "Consumer {Consumer} could not subscribe to {Topic}: {Reason}; retrying in {Delay}.")]
    public static partial void SubscribeFailed(ILogger logger, Exception? exception, string consumer, string topic, string reason, TimeSpan delay);

    // Expected failures (a dependency is down): one line, no stack trace; unexpected ones carry the exception.
    [LoggerMessage(5002, LogLevel.Warning, "Handling message {MessageId} by {Consumer} failed (attempt {Attempt}): {Reason}; next attempt at {NextAttemptAt}.")]
    public static partial void AttemptFailed(ILogger logger, Exception? exception, Guid messageId, string consumer, int attempt, string reason, DateTimeOffset nextAttemptAt);

    [LoggerMessage(5003, LogLevel.Error, "Message {MessageId} is dead for {Consumer} after attempt {Attempt}: {Reason}; it is kept with its error history and can be replayed.")]
    public static partial void DeadLettered(ILogger logger, Exception? exception, Guid messageId, string consumer, int attempt, string reason);

    [LoggerMessage(5004, LogLevel.Debug, "Message {MessageId} is already recorded for {Consumer}; acknowledged without running the handler.")]
    public static partial void Duplicate(ILogger logger, Guid messageId, string consumer);

    [LoggerMessage(5005, LogLevel.Warning, "The inbox could not record message {MessageId} for {Consumer}: {Reason}; it is handed back.")]
    public static partial void InboxUnavailable(ILogger logger, Exception? exception, Guid? messageId, string consumer, string reason);

    [LoggerMessage(5006, LogLevel.Warning, "Settling a delivery of message {MessageId} with the broker failed; the broker will redeliver it and the inbox will recognise it.")]
    public static partial void SettleFailed(ILogger logger, Exception exception, Guid? messageId);

    [LoggerMessage(5007, LogLevel.Information, "Intake paused ({Reason}): no new messages are taken; in-flight ones finish.")]
    public static partial void Paused(ILogger logger, string reason);

    [LoggerMessage(5008, LogLevel.Information, "Intake resumed ({Reason}).")]
    public static partial void Resumed(ILogger logger, string reason);

    [LoggerMessage(5009, LogLevel.Warning, "Claiming due retries failed: {Reason}; trying again in {Delay}.")]
    public static partial void RetryClaimFailed(ILogger logger, Exception? exception, string reason, TimeSpan delay);

    [LoggerMessage(5010, LogLevel.Warning, "Inbox cleanup failed: {Reason}; retrying at the next interval.")]
    public static partial void CleanupFailed(ILogger logger, Exception? exception, string reason);

    [LoggerMessage(5011, LogLevel.Debug, "Inbox cleanup deleted {Count} processed rows.")]
    public static partial void CleanupDeleted(ILogger logger, int count);

    [LoggerMessage(5012, LogLevel.Error, "A message on {Topic} for {Consumer} carries no valid message id; it is dead-lettered as {MessageId}.")]
    public static partial void MissingMessageId(ILogger logger, string topic, string consumer, Guid messageId);

    [LoggerMessage(5013, LogLevel.Information, "Stopping consumers: intake stopped, waiting up to {Timeout} for {Count} in-flight messages.")]
    public static partial void Draining(ILogger logger, TimeSpan timeout, int count);

    [LoggerMessage(5014, LogLevel.Warning, "Shutdown timeout reached with {Count} messages in flight; their handlers are cancelled and the messages handed back.")]
    public static partial void ShutdownTimedOut(ILogger logger, int count);

    [LoggerMessage(5015, LogLevel.Information, "Consumers stopped; {Requeued} delivered but unstarted messages were handed back.")]
    public static partial void Stopped(ILogger logger, int requeued);

    [LoggerMessage(5016, LogLevel.Debug, "Skipped a stale delivery of message {MessageId}: its channel was lost and the broker redelivers it.")]
    public static partial void StaleSkipped(ILogger logger, Guid? messageId);

    [LoggerMessage(5017, LogLevel.Warning, "Handing retry of message {MessageId} for {Consumer} back failed; its lease will expire.")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, Guid messageId, string consumer);

    [LoggerMessage(5018, LogLevel.Warning, "Signal handling (SIGTSTP/SIGCONT) is not available on this platform.")]
    public static partial void SignalsUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(5019, LogLevel.Warning, "Pausing or resuming a subscription of {Consumer} failed.")]
    public static partial void IntakeControlFailed(ILogger logger, Exception exception, string consumer);

    [LoggerMessage(5090, LogLevel.Warning, "Handling message {MessageId} by {Consumer} failed (attempt {Attempt}), and the failure was not recorded: the inbox already holds the message as processed (its transaction was committed, e.g. by the handler itself) or another instance owns its retry. No further attempt is scheduled here.")]
    public static partial void FailureNotRecorded(ILogger logger, Exception exception, Guid messageId, string consumer, int attempt);

    [LoggerMessage(5020, LogLevel.Warning, "{Scope}: {Count} attempts failed in the last {Window}: {Reason} ({Suppressed} not logged individually).")]
    public static partial void FailuresSummarised(ILogger logger, string scope, int count, TimeSpan window, string reason, int suppressed);

    [LoggerMessage(5021, LogLevel.Debug, "Message {MessageId} for {Consumer} waits in the inbox behind an unfinished earlier message of key {Key}.")]
    public static partial void Parked(ILogger logger, Guid messageId, string consumer, string key);

    [LoggerMessage(5023, LogLevel.Information, "Consumer {Consumer} paused in the store (IPostboxPauses): no new deliveries and no retries until it is resumed.")]
    public static partial void ConsumerPaused(ILogger logger, string consumer);

    [LoggerMessage(5024, LogLevel.Information, "Consumer {Consumer} resumed in the store: taking deliveries and retries again.")]
    public static partial void ConsumerResumed(ILogger logger, string consumer);

    [LoggerMessage(5025, LogLevel.Warning, "Reading the paused consumers failed: {Reason}. Each consumer keeps its last known state; next try in {Delay}.")]
    public static partial void PausePollFailed(ILogger logger, Exception? exception, string reason, TimeSpan delay);

    [LoggerMessage(5022, LogLevel.Warning, "{Consumer}: {Count} handed-back messages of key {Key} did not come back to this worker within {Lapse}; the key's later messages are no longer held back for them.")]
    public static partial void BarrierLapsed(ILogger logger, string consumer, string key, int count, TimeSpan lapse);
}
