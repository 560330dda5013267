using System.Data.Common;
using System.Text.Json;
using Postbox.Service.Data;

namespace Postbox.Service.Mail;

/// <summary>
/// The <c>mail_deliveries</c> table and its error history. Status changes are check-and-set: a delivery already
/// <c>sent</c> is never claimed again, whatever message asks for it.
/// </summary>
internal sealed class MailDeliveryStore(AppDatabase database)
{
    private readonly string _deliveries = database.Table("mail_deliveries");
    private readonly string _errors = database.Table("mail_delivery_errors");

    /// <summary>Inserts a queued delivery through the caller's transaction (the one that enqueues its outbox message).</summary>
    public async Task InsertAsync(DbTransaction transaction, Guid id, Guid messageId, string from, IReadOnlyList<string> to, string subject, string content,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        await using var command = AppDatabase.Command(transaction.Connection!, transaction, $"""
            INSERT INTO {_deliveries} (id, message_id, from_address, to_addresses, subject, content, status, attempts, created_at, updated_at)
            VALUES (@id, @message, @from, @to, @subject, @content, 'queued', 0, @now, @now)
            """, ("id", database.Id(id)), ("message", database.Id(messageId)), ("from", from), ("to", JsonSerializer.Serialize(to)),
            ("subject", subject), ("content", content), ("now", now));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<MailDeliveryView?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        MailDeliveryView? view;
        await using (var command = AppDatabase.Command(connection, null, $"""
            SELECT id, status, from_address, to_addresses, subject, attempts, last_error, created_at, started_at, finished_at
            FROM {_deliveries} WHERE id = @id
            """, ("id", database.Id(id))))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            view = new MailDeliveryView(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), Recipients(reader.GetString(3)), reader.GetString(4),
                reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7),
                Time(reader, 8), Time(reader, 9), []);
        }

        var errors = new List<MailDeliveryError>();
        await using (var command = AppDatabase.Command(connection, null,
            $"SELECT attempt, occurred_at, error FROM {_errors} WHERE delivery_id = @id ORDER BY id", ("id", database.Id(id))))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                errors.Add(new MailDeliveryError(reader.GetInt32(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2)));
            }
        }

        return view with { Errors = errors };
    }

    /// <summary>
    /// Check-and-set <c>queued</c>/<c>failed</c>/<c>sending</c> → <c>sending</c>, counting the attempt, committed at once so
    /// the status is visible while the SMTP conversation runs. <c>sending</c> is claimable too: it is what a crash
    /// mid-send leaves behind, and the inbox already serializes attempts of one message. Returns <see langword="null"/>
    /// when the delivery is already sent (or unknown): nothing is to be sent.
    /// </summary>
    public async Task<MailToSend?> TryStartSendingAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null, database.Dialect($"""
            UPDATE {_deliveries} SET status = 'sending', attempts = attempts + 1, started_at = COALESCE(started_at, @now), updated_at = @now
            WHERE id = @id AND status <> 'sent'
            RETURNING from_address, to_addresses, subject, content, attempts
            """), ("id", database.Id(id)), ("now", now));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new MailToSend(id, reader.GetString(0), Recipients(reader.GetString(1)), reader.GetString(2), reader.GetString(3), reader.GetInt32(4))
            : null;
    }

    /// <summary>
    /// Records a failed attempt in its own transaction (the handler's is rolled back when it throws): the error joins
    /// the history; the status becomes <c>failed</c> when no retry follows, <c>queued</c> while one does.
    /// </summary>
    public async Task RecordFailureAsync(Guid id, int attempt, DateTimeOffset at, string error, bool final, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await using (var history = AppDatabase.Command(connection, transaction,
            $"INSERT INTO {_errors} (delivery_id, attempt, occurred_at, error) VALUES (@id, @attempt, @at, @error)",
            ("id", database.Id(id)), ("attempt", attempt), ("at", at), ("error", error)))
        {
            await history.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var update = AppDatabase.Command(connection, transaction, $"""
            UPDATE {_deliveries} SET status = @status, last_error = @error, finished_at = @finished, updated_at = @at
            WHERE id = @id AND status <> 'sent'
            """, ("id", database.Id(id)), ("status", final ? "failed" : "queued"), ("error", error), ("finished", final ? at : null), ("at", at)))
        {
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Marks the delivery sent in its own transaction, committed before the inbox's: the server accepted the mail, and
    /// that must be on record even if the inbox transaction's connection died meanwhile (a database restart). Idempotent:
    /// saving it again (the commit's answer was lost) changes nothing.
    /// </summary>
    public async Task MarkSentAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null, $"""
            UPDATE {_deliveries} SET status = 'sent', last_error = NULL, finished_at = @now, updated_at = @now WHERE id = @id AND status <> 'sent'
            """, ("id", database.Id(id)), ("now", now));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string[] Recipients(string json) => JsonSerializer.Deserialize<string[]>(json) ?? [];

    private static DateTimeOffset? Time(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
