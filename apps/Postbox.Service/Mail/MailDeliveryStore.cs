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
            SELECT id, CASE WHEN status = 'failed' AND end_of_data_at IS NOT NULL THEN 'unconfirmed' ELSE status END, from_address, to_addresses, subject, attempts, last_error, created_at, started_at, finished_at
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
    /// mid-send leaves behind, and the inbox already serializes attempts of one message. But a <c>sending</c> delivery
    /// whose end of data was handed to the server (<c>end_of_data_at</c> set) may have been accepted: under
    /// <paramref name="holdUnconfirmed"/> it becomes unconfirmed (held, not sent) instead. A delivery already sent, or held
    /// as unconfirmed, is never claimed.
    /// </summary>
    public async Task<SendStart> TryStartSendingAsync(Guid id, DateTimeOffset now, bool holdUnconfirmed, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (holdUnconfirmed && await TryHoldAsync(connection, id, now, cancellationToken).ConfigureAwait(false))
        {
            return SendStart.Held;
        }

        await using var command = AppDatabase.Command(connection, null, database.Dialect($"""
            UPDATE {_deliveries} SET status = 'sending', attempts = attempts + 1, end_of_data_at = NULL, started_at = COALESCE(started_at, @now), updated_at = @now
            WHERE id = @id AND status <> 'sent' AND NOT (status = 'failed' AND end_of_data_at IS NOT NULL)
            RETURNING from_address, to_addresses, subject, content, attempts
            """), ("id", database.Id(id)), ("now", now));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? SendStart.Send(new MailToSend(id, reader.GetString(0), Recipients(reader.GetString(1)), reader.GetString(2), reader.GetString(3), reader.GetInt32(4)))
            : SendStart.Nothing;
    }

    private async Task<bool> TryHoldAsync(DbConnection connection, Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await using (var hold = AppDatabase.Command(connection, transaction, $"""
            UPDATE {_deliveries} SET status = 'failed', last_error = @error, finished_at = @now, updated_at = @now
            WHERE id = @id AND status = 'sending' AND end_of_data_at IS NOT NULL
            """, ("id", database.Id(id)), ("now", now), ("error", UnconfirmedAfterStopFor(id))))
        {
            if (await hold.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return false;
            }
        }

        await using (var history = AppDatabase.Command(connection, transaction, $"""
            INSERT INTO {_errors} (delivery_id, attempt, occurred_at, error) SELECT id, attempts, @now, @error FROM {_deliveries} WHERE id = @id
            """, ("id", database.Id(id)), ("now", now), ("error", UnconfirmedAfterStopFor(id))))
        {
            await history.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Records, committed, that this attempt is about to hand the end of the mail to the server (the final <c>.</c>): from
    /// here on the server may accept it without us learning so. Throws when the attempt is no longer the delivery's
    /// current one, or the database cannot record it: then the <c>.</c> is never sent and the server discards the mail.
    /// </summary>
    public async Task MarkEndOfDataAsync(Guid id, int attempt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = AppDatabase.Command(connection, null, $"""
            UPDATE {_deliveries} SET end_of_data_at = @now, updated_at = @now WHERE id = @id AND status = 'sending' AND attempts = @attempt
            """, ("id", database.Id(id)), ("attempt", attempt), ("now", now));
        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            throw new InvalidOperationException($"Delivery {id} is no longer at attempt {attempt}; its end of data is not sent.");
        }
    }

    /// <summary>
    /// Queues a failed or unconfirmed delivery again, with a new outbox message, in one transaction: an operator's decision
    /// (an unconfirmed mail may have been received). Returns <see langword="false"/> when the delivery is unknown or not
    /// failed.
    /// </summary>
    public async Task<bool> RequeueAsync(DbTransaction transaction, Guid id, Guid messageId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        await using var command = AppDatabase.Command(transaction.Connection!, transaction, $"""
            UPDATE {_deliveries} SET status = 'queued', message_id = @message, end_of_data_at = NULL, finished_at = NULL, updated_at = @now
            WHERE id = @id AND status = 'failed'
            """, ("id", database.Id(id)), ("message", database.Id(messageId)), ("now", now));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <summary>
    /// Records a failed attempt in its own transaction (the handler's is rolled back when it throws): the error joins
    /// the history; the status becomes <c>failed</c> when no retry follows, <c>queued</c> while one does. A
    /// <paramref name="held"/> failure (no answer after the end of data, held as unconfirmed) keeps <c>end_of_data_at</c>,
    /// which marks it unconfirmed; any other clears it: the server's answer, or its absence before the end of data, is known.
    /// </summary>
    public async Task RecordFailureAsync(Guid id, int attempt, DateTimeOffset at, string error, bool final, bool held, CancellationToken cancellationToken)
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
            UPDATE {_deliveries} SET status = @status, last_error = @error, finished_at = @finished, updated_at = @at{(held ? "" : ", end_of_data_at = NULL")}
            WHERE id = @id AND status <> 'sent'
            """, ("id", database.Id(id)), ("status", final || held ? "failed" : "queued"), ("error", error), ("finished", final || held ? at : null), ("at", at)))
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

    /// <summary>The error recorded for a delivery held because the attempt that handed over its end of data never finished.</summary>
    public static string UnconfirmedAfterStopFor(Guid id) =>
        "Unconfirmed: an attempt handed the end of the mail to the SMTP server and stopped before its answer (the worker stopped or crashed); " +
        $"the server may have accepted it. Held, not sent again: POST /api/mail/{id}/resend sends it once more.";

    private static string[] Recipients(string json) => JsonSerializer.Deserialize<string[]>(json) ?? [];

    private static DateTimeOffset? Time(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
