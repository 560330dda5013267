namespace Postbox.Service.Users;

/// <summary>Body of <c>POST /api/v1/users</c>.</summary>
/// <param name="Email">The user's address (unique, case-insensitive).</param>
/// <param name="Password">8 to 128 characters; only its salted hash is stored.</param>
internal sealed record RegisterUserRequest(string? Email, string? Password);

/// <summary>A user as the API shows it (never the hash).</summary>
/// <param name="Id">The user id.</param>
/// <param name="Email">The address.</param>
/// <param name="CreatedAt">Registration time.</param>
/// <param name="WelcomeMail">Status of the welcome mail: <c>pending</c>, <c>sent</c> or <c>failed</c>.</param>
/// <param name="WelcomeMailAttempts">Send attempts of the welcome mail.</param>
/// <param name="WelcomeMailError">The last error while not sent.</param>
internal sealed record UserView(Guid Id, string Email, DateTimeOffset CreatedAt, string WelcomeMail, int WelcomeMailAttempts, string? WelcomeMailError);

/// <summary>The outbox message asking for the welcome mail: the notification id only.</summary>
/// <param name="NotificationId">The notification row.</param>
internal sealed record WelcomeMailCommand(Guid NotificationId);

/// <summary>A welcome notification claimed for sending.</summary>
/// <param name="Id">The notification id.</param>
/// <param name="Recipient">The user's address.</param>
/// <param name="Attempt">This attempt's number.</param>
internal sealed record WelcomeToSend(Guid Id, string Recipient, int Attempt);
