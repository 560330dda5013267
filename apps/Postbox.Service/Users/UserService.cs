using Postbox.Service.Data;
using Postbox.Service.Hosting;

namespace Postbox.Service.Users;

/// <summary>Registers a user: user, welcome notification and outbox message in one transaction.</summary>
internal sealed class UserService(AppDatabase database, UserStore users, IOutbox outbox, TimeProvider timeProvider, ILogger<UserService> logger)
{
    /// <summary>
    /// Returns the new user as stored (read before the commit, on the same connection), or <see langword="null"/> when
    /// the address is already registered.
    /// </summary>
    public async Task<UserView?> RegisterAsync(string email, string password, CancellationToken cancellationToken)
    {
        // Hashed before the transaction opens: the slow part must not hold SQLite's write lock.
        var hash = PasswordHasher.Hash(password);
        var userId = Guid.CreateVersion7();
        var notificationId = Guid.CreateVersion7();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        if (!await users.InsertAsync(transaction, userId, email, hash, notificationId, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        await outbox.EnqueueAsync(transaction, OutboxMessage.FromJson(Topics.UserWelcome, new WelcomeMailCommand(notificationId), type: "WelcomeMail"),
            cancellationToken).ConfigureAwait(false);
        var view = await users.GetAsync(transaction, userId, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The user {userId} just inserted was not found in the same transaction.");
        await AppDatabase.CommitAsync(transaction).ConfigureAwait(false);
        ServiceLog.UserRegistered(logger, userId);
        return view;
    }
}
