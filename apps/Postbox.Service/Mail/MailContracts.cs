namespace Postbox.Service.Mail;

/// <summary>Body of <c>POST /api/mail/send</c>.</summary>
/// <param name="From">Sender address.</param>
/// <param name="To">Recipients (1 to 50).</param>
/// <param name="Subject">Subject: one line.</param>
/// <param name="Content">Plain-text body.</param>
internal sealed record SendMailRequest(string? From, string?[]? To, string? Subject, string? Content);

/// <summary>Answer of <c>POST /api/mail/send</c>.</summary>
/// <param name="Id">The delivery id.</param>
/// <param name="Status">Always <c>queued</c>.</param>
/// <param name="StatusUrl">Where to read the status.</param>
internal sealed record MailAccepted(Guid Id, string Status, string StatusUrl);

/// <summary>A delivery as <c>GET /api/mail/{id}</c> shows it.</summary>
/// <param name="Id">The delivery id.</param>
/// <param name="Status"><c>queued</c>, <c>sending</c>, <c>sent</c>, <c>failed</c>, or <c>unconfirmed</c> (the server may have
/// accepted it; held, not sent again until resent).</param>
/// <param name="From">Sender.</param>
/// <param name="To">Recipients.</param>
/// <param name="Subject">Subject.</param>
/// <param name="Attempts">Send attempts started.</param>
/// <param name="LastError">The error of the last failed attempt, cleared when the mail is sent.</param>
/// <param name="CreatedAt">When the request was accepted.</param>
/// <param name="StartedAt">When the first attempt started.</param>
/// <param name="FinishedAt">When it was sent, or finally failed.</param>
/// <param name="Errors">Every failed attempt, oldest first.</param>
internal sealed record MailDeliveryView(
    Guid Id, string Status, string From, IReadOnlyList<string> To, string Subject, int Attempts, string? LastError,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, IReadOnlyList<MailDeliveryError> Errors);

/// <summary>One failed attempt.</summary>
/// <param name="Attempt">The attempt number (1 for the first).</param>
/// <param name="At">When it failed.</param>
/// <param name="Error">What went wrong.</param>
internal sealed record MailDeliveryError(int Attempt, DateTimeOffset At, string Error);

/// <summary>
/// The outbox message of a delivery: only its id. The worker reads the mail from <c>mail_deliveries</c>, so the message
/// carries no content and no credential.
/// </summary>
/// <param name="DeliveryId">The delivery id.</param>
internal sealed record SendMailCommand(Guid DeliveryId);

/// <summary>A delivery the worker claimed for sending.</summary>
/// <param name="Id">The delivery id.</param>
/// <param name="From">Sender.</param>
/// <param name="To">Recipients.</param>
/// <param name="Subject">Subject.</param>
/// <param name="Content">Body.</param>
/// <param name="Attempt">This attempt's number.</param>
internal sealed record MailToSend(Guid Id, string From, IReadOnlyList<string> To, string Subject, string Content, int Attempt);
