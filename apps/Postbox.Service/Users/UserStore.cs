using System.Data.Common;
using Postbox.Service.Data;

namespace Postbox.Service.Users;

/// <summary>The <c>users</c> and <c>notifications</c> tables.</summary>
internal sealed class UserStore(AppDatabase database)
{
    private readonly string _users = database.Table("users");
    private readonly string _notifications = database.Table("notifications");

    /// <summary>Inserts the user and its welcome notification; <see langword="false"/> when the address is taken.</summary>
    public async Task<bool> InsertAsync(DbTransaction transaction, Guid userId, string email, string passwordHash, Guid notificationId, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        // ON CONFLICT DO NOTHING rather than catching the violation: a failed statement aborts a PostgreSQL transaction.
        await using (var insert = AppDatabase.Command(transaction.Connection!, transaction, database.Dialect($"""
            INSERT INTO {_users} (id, email, password_hash, created_at) VALUES (@id, @email, @hash, @now) ON CONFLICT (email) DO NOTHING
            """), ("id", database.Id(userId)), ("email", email), ("hash", passwordHash), ("now", now)))
        {
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return false;
            }
        }

        await using var notification = AppDatabase.Command(transaction.Connection!, transaction, $"""
            INSERT INTO {_notifications} (id, user_id, kind, recipient, status, attempts, created_at) VALUES (@id, @user, 'welcome', @email, 'pending', 0, @now)
            """, ("id", database.Id(notificationId)), ("user", database.Id(userId)), ("email", email), ("now", now));
        await notification.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<UserView?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await GetAsync(connection, null, id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads on <paramref name="transaction"/>'s connection: a registration answers with what it wrote before committing,
    /// so no second connection (possibly a stale pooled one) is needed after the commit, when the request can no longer
    /// be retried.
    /// </summary>
    public Task<UserView?> GetAsync(DbTransaction transaction, Guid id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        return GetAsync(transaction.Connection!, transaction, id, cancellationToken);
    }

    private async Task<UserView?> GetAsync(DbConnection connection, DbTransaction? transaction, Guid id, CancellationToken cancellationToken)
    {
        await using var command = AppDatabase.Command(connection, transaction, $"""
            SELECT u.id, u.email, u.created_at, CASE WHEN n.status = 'failed' AND n.end_of_data_at IS NOT NULL THEN 'unconfirmed' ELSE n.status END,
                   n.attempts, n.last_error
            FROM {_users} u JOIN {_notifications} n ON n.user_id = u.id AND n.kind = 'welcome'
            WHERE u.id = @id
            """, ("id", database.Id(id)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new UserView(reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3), reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetString(5))
            : null;
    }

    /// <summary>For tests and operators: the stored hash (never exposed by the API).</summary>
    public async Task<string?> GetPasswordHashAsync(string email, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null, $"SELECT password_hash FROM {_users} WHERE email = @email", ("email", email));
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <summary>
    /// Check-and-set: counts an attempt unless the notification was already sent or is held as unconfirmed (then
    /// <c>Nothing</c>). Under <paramref name="holdUnconfirmed"/>, a notification whose previous attempt handed its end of
    /// data to the server and never finished becomes held instead (see <c>MailDeliveryStore.TryStartSendingAsync</c>).
    /// </summary>
    public async Task<(WelcomeToSend? Welcome, bool Held)> TryStartSendingAsync(Guid notificationId, bool holdUnconfirmed, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (holdUnconfirmed)
        {
            await using var hold = AppDatabase.Command(connection, null, $"""
                UPDATE {_notifications} SET status = 'failed', last_error = @error WHERE id = @id AND status = 'pending' AND end_of_data_at IS NOT NULL
                """, ("id", database.Id(notificationId)), ("error", UnconfirmedAfterStop));
            if (await hold.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0)
            {
                return (null, true);
            }
        }

        await using var command = AppDatabase.Command(connection, null, database.Dialect($"""
            UPDATE {_notifications} SET attempts = attempts + 1, end_of_data_at = NULL
            WHERE id = @id AND status <> 'sent' AND NOT (status = 'failed' AND end_of_data_at IS NOT NULL)
            RETURNING recipient, attempts
            """), ("id", database.Id(notificationId)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (new WelcomeToSend(notificationId, reader.GetString(0), reader.GetInt32(1)), false) : (null, false);
    }

    /// <summary>Records, committed, that this attempt is about to send the end of data (see <c>MailDeliveryStore.MarkEndOfDataAsync</c>).</summary>
    public async Task MarkEndOfDataAsync(Guid notificationId, int attempt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null,
            $"UPDATE {_notifications} SET end_of_data_at = @now WHERE id = @id AND status = 'pending' AND attempts = @attempt",
            ("id", database.Id(notificationId)), ("attempt", attempt), ("now", now));
        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            throw new InvalidOperationException($"Notification {notificationId} is no longer at attempt {attempt}; its end of data is not sent.");
        }
    }

    /// <summary>
    /// Saves a failed attempt in its own transaction (the handler's is rolled back). A <paramref name="held"/> failure keeps
    /// <c>end_of_data_at</c> (held as unconfirmed); any other clears it.
    /// </summary>
    public async Task RecordFailureAsync(Guid notificationId, string error, bool final, bool held, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null,
            $"UPDATE {_notifications} SET last_error = @error, status = @status{(held ? "" : ", end_of_data_at = NULL")} WHERE id = @id AND status <> 'sent'",
            ("id", database.Id(notificationId)), ("error", error), ("status", final || held ? "failed" : "pending"));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private const string UnconfirmedAfterStop =
        "Unconfirmed: an attempt handed the end of the mail to the SMTP server and stopped before its answer; the server may have accepted it. Held, not sent again.";

    /// <summary>Marks the notification sent in its own transaction (see <c>MailDeliveryStore.MarkSentAsync</c>). Idempotent.</summary>
    public async Task MarkSentAsync(Guid notificationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null,
            $"UPDATE {_notifications} SET status = 'sent', last_error = NULL, sent_at = @now WHERE id = @id AND status <> 'sent'",
            ("id", database.Id(notificationId)), ("now", now));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
