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

    [LoggerMessage(7011, LogLevel.Information, "Mail {DeliveryId}: sending, attempt {Attempt} (handler attempt {HandlerAttempt})")]
    public static partial void MailSending(ILogger logger, Guid deliveryId, int attempt, int handlerAttempt);

    [LoggerMessage(7012, LogLevel.Information, "Mail {DeliveryId} sent on attempt {Attempt}")]
    public static partial void MailSent(ILogger logger, Guid deliveryId, int attempt);

    [LoggerMessage(7013, LogLevel.Warning, "Mail {DeliveryId}: attempt {Attempt} failed (final: {Final})")]
    public static partial void MailFailed(ILogger logger, Exception exception, Guid deliveryId, int attempt, bool final);

    [LoggerMessage(7014, LogLevel.Information, "Mail {DeliveryId} is already sent (or unknown): message {MessageId} sends nothing")]
    public static partial void MailSkipped(ILogger logger, Guid deliveryId, Guid messageId);

    [LoggerMessage(7020, LogLevel.Information, "User {UserId} registered; welcome mail queued")]
    public static partial void UserRegistered(ILogger logger, Guid userId);

    [LoggerMessage(7021, LogLevel.Information, "Welcome mail {NotificationId} sent")]
    public static partial void WelcomeSent(ILogger logger, Guid notificationId);

    [LoggerMessage(7022, LogLevel.Information, "Welcome mail {NotificationId} is already sent (or unknown): nothing to send")]
    public static partial void WelcomeSkipped(ILogger logger, Guid notificationId);

    [LoggerMessage(7023, LogLevel.Warning, "Welcome mail {NotificationId}: attempt {Attempt} failed (final: {Final})")]
    public static partial void WelcomeFailed(ILogger logger, Exception exception, Guid notificationId, int attempt, bool final);

    [LoggerMessage(7030, LogLevel.Information, "Customer {CustomerId} created; CustomerCreated queued")]
    public static partial void CustomerCreated(ILogger logger, Guid customerId);

    [LoggerMessage(7031, LogLevel.Information, "Handling CustomerCreated for customer {CustomerId} ({Name}), message {MessageId}, attempt {Attempt}")]
    public static partial void CustomerEventHandled(ILogger logger, Guid customerId, string name, Guid messageId, int attempt);

    [LoggerMessage(7050, LogLevel.Warning, "Database unreachable: {Reason}. The API answers 503 (Retry-After {RetryAfterSeconds} s) until it is back; logged once per outage")]
    public static partial void DatabaseUnreachable(ILogger logger, string reason, int retryAfterSeconds);

    [LoggerMessage(7051, LogLevel.Information, "Database reachable again after {Duration}; {Refused} requests were answered 503 meanwhile")]
    public static partial void DatabaseReachable(ILogger logger, TimeSpan duration, long refused);

    [LoggerMessage(7052, LogLevel.Debug, "{Method} {Path}: broken pooled database connection ({Reason}); pool cleared, retrying on a fresh connection")]
    public static partial void StaleConnectionRetried(ILogger logger, string method, string path, string reason);

    [LoggerMessage(7040, LogLevel.Critical, "The service cannot start: {Errors}")]
    public static partial void InvalidConfiguration(ILogger logger, string errors);
}
