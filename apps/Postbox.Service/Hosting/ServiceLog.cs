namespace Postbox.Service.Hosting;

/// <summary>The service's log messages (event ids 7000–7999). No message carries a password, a hash or an SMTP credential.</summary>
internal static partial class ServiceLog
{
    [LoggerMessage(7000, LogLevel.Information, "Service migration {Version} ({Name}) applied")]
    public static partial void MigrationApplied(ILogger logger, int version, string name);

    [LoggerMessage(7001, LogLevel.Information, "Postbox service started: roles {Roles}, storage {Storage}, transport {Transport}, mail {Mail}")]
    public static partial void Started(ILogger logger, ServiceRoles roles, StorageProvider storage, TransportProvider transport, MailDelivery mail);

    [LoggerMessage(7010, LogLevel.Information, "Mail {DeliveryId} queued (outbox message {MessageId})")]
    public static partial void MailQueued(ILogger logger, Guid deliveryId, Guid messageId);

    [LoggerMessage(7011, LogLevel.Debug, "Mail {DeliveryId}: sending, attempt {Attempt} (handler attempt {HandlerAttempt})")]
    public static partial void MailSending(ILogger logger, Guid deliveryId, int attempt, int handlerAttempt);

    [LoggerMessage(7012, LogLevel.Information, "Mail {DeliveryId} sent on attempt {Attempt}")]
    public static partial void MailSent(ILogger logger, Guid deliveryId, int attempt);

    // One line, no stack trace: the consumer runtime logs the attempt (or summarises many); this says what SMTP answered.
    [LoggerMessage(7013, LogLevel.Debug, "Mail {DeliveryId}: attempt {Attempt} failed: {Reason}")]
    public static partial void MailFailed(ILogger logger, Guid deliveryId, int attempt, string reason);

    [LoggerMessage(7015, LogLevel.Warning, "Mail {DeliveryId} failed for good after attempt {Attempt}: {Reason}")]
    public static partial void MailFailedFinally(ILogger logger, Guid deliveryId, int attempt, string reason);

    [LoggerMessage(7016, LogLevel.Information, "Mail {DeliveryId} was accepted by the SMTP server in an earlier attempt of this process; its sent record is saved now, nothing is sent again")]
    public static partial void MailSentRecordedLate(ILogger logger, Guid deliveryId);

    [LoggerMessage(7014, LogLevel.Information, "Mail {DeliveryId} is already sent (or unknown): message {MessageId} sends nothing")]
    public static partial void MailSkipped(ILogger logger, Guid deliveryId, Guid messageId);

    [LoggerMessage(7017, LogLevel.Warning, "Mail {DeliveryId} is held as unconfirmed, not sent again: {Reason}. The SMTP server may have it; POST /api/mail/{DeliveryId}/resend sends it once more")]
    public static partial void MailHeldUnconfirmed(ILogger logger, Guid deliveryId, string reason);

    [LoggerMessage(7018, LogLevel.Information, "Mail {DeliveryId} queued again by request (message {MessageId})")]
    public static partial void MailRequeued(ILogger logger, Guid deliveryId, Guid messageId);

    [LoggerMessage(7026, LogLevel.Warning, "Welcome mail {NotificationId} is held as unconfirmed, not sent again: {Reason}. The SMTP server may have it")]
    public static partial void WelcomeHeldUnconfirmed(ILogger logger, Guid notificationId, string reason);

    [LoggerMessage(7020, LogLevel.Information, "User {UserId} registered; welcome mail queued")]
    public static partial void UserRegistered(ILogger logger, Guid userId);

    [LoggerMessage(7021, LogLevel.Information, "Welcome mail {NotificationId} sent")]
    public static partial void WelcomeSent(ILogger logger, Guid notificationId);

    [LoggerMessage(7022, LogLevel.Information, "Welcome mail {NotificationId} is already sent (or unknown): nothing to send")]
    public static partial void WelcomeSkipped(ILogger logger, Guid notificationId);

    [LoggerMessage(7023, LogLevel.Debug, "Welcome mail {NotificationId}: attempt {Attempt} failed: {Reason}")]
    public static partial void WelcomeFailed(ILogger logger, Guid notificationId, int attempt, string reason);

    [LoggerMessage(7024, LogLevel.Warning, "Welcome mail {NotificationId} failed for good after attempt {Attempt}: {Reason}")]
    public static partial void WelcomeFailedFinally(ILogger logger, Guid notificationId, int attempt, string reason);

    [LoggerMessage(7025, LogLevel.Information, "Welcome mail {NotificationId} was accepted by the SMTP server in an earlier attempt of this process; its sent record is saved now, nothing is sent again")]
    public static partial void WelcomeSentRecordedLate(ILogger logger, Guid notificationId);

    [LoggerMessage(7050, LogLevel.Warning, "The {Kind} {Id} was accepted by the SMTP server but saving its sent record failed: {Reason}; retrying for up to {Limit}")]
    public static partial void SentRecordRetrying(ILogger logger, string kind, Guid id, TimeSpan limit, string reason);

    [LoggerMessage(7051, LogLevel.Information, "Sent record of {Kind} {Id} saved on try {Try}, {Elapsed} after the SMTP server accepted it")]
    public static partial void SentRecordSaved(ILogger logger, string kind, Guid id, int @try, TimeSpan elapsed);

    [LoggerMessage(7052, LogLevel.Error, "The {Kind} {Id} was accepted by the SMTP server but its sent record could not be saved within {Limit} ({Reason}). This process will not send it again; another worker that takes it over would")]
    public static partial void SentRecordLost(ILogger logger, string kind, Guid id, TimeSpan limit, string reason);

    [LoggerMessage(7030, LogLevel.Information, "Customer {CustomerId} created; CustomerCreated queued")]
    public static partial void CustomerCreated(ILogger logger, Guid customerId);

    [LoggerMessage(7031, LogLevel.Information, "Handling CustomerCreated for customer {CustomerId} ({Name}), message {MessageId}, attempt {Attempt}")]
    public static partial void CustomerEventHandled(ILogger logger, Guid customerId, string name, Guid messageId, int attempt);

    [LoggerMessage(7060, LogLevel.Warning, "Database unreachable: {Reason}. The API answers 503 (Retry-After {RetryAfterSeconds} s) until it is back; logged once per outage")]
    public static partial void DatabaseUnreachable(ILogger logger, string reason, int retryAfterSeconds);

    [LoggerMessage(7061, LogLevel.Information, "Database reachable again after {Duration}; {Refused} requests were answered 503 meanwhile")]
    public static partial void DatabaseReachable(ILogger logger, TimeSpan duration, long refused);

    [LoggerMessage(7062, LogLevel.Debug, "{Method} {Path}: broken pooled database connection ({Reason}); pool cleared, retrying on a fresh connection")]
    public static partial void StaleConnectionRetried(ILogger logger, string method, string path, string reason);

    [LoggerMessage(7040, LogLevel.Critical, "The service cannot start: {Errors}")]
    public static partial void InvalidConfiguration(ILogger logger, string errors);
}
