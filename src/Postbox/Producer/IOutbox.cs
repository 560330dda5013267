using System.Data.Common;

namespace Postbox;

/// <summary>
/// Writes messages to the outbox inside the caller's database transaction. The messages become visible
/// to the relay when the transaction commits; a rollback discards them.
/// </summary>
/// <remarks>
/// Every message is validated before any statement runs, so a refused message (an <see cref="ArgumentException"/>)
/// leaves the caller's transaction usable: nothing of that call was written, and the caller may commit the rest of
/// its work. A message whose <see cref="OutboxMessage.Id"/> is already in the outbox (enqueued by an earlier call or
/// transaction, and not yet removed: by default a message is deleted as soon as the broker confirms it, see
/// <c>RelayOptions.DeliveredRetention</c>) is skipped — an idempotent no-op that never aborts the transaction —
/// and the stored message is kept unchanged. See <c>docs/guarantees.md</c> for the full rules.
/// </remarks>
public interface IOutbox
{
    /// <summary>Enqueues one message through <paramref name="transaction"/>.</summary>
    /// <param name="transaction">The caller's open transaction (Npgsql, SQLite, ...); its connection is used.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>
    /// <see langword="true"/> when the message was written; <see langword="false"/> when a message with its id was
    /// already in the outbox, which is then left as it was.
    /// </returns>
    /// <exception cref="ArgumentException">The message is invalid (the exception names the field); nothing was written.</exception>
    Task<bool> EnqueueAsync(DbTransaction transaction, OutboxMessage message, CancellationToken cancellationToken = default);

    /// <summary>Enqueues many messages through <paramref name="transaction"/> in one round trip.</summary>
    /// <param name="transaction">The caller's open transaction; its connection is used.</param>
    /// <param name="messages">The messages, kept in this order for ordering keys.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>
    /// How many messages were written: fewer than given when some ids were already in the outbox (those are left
    /// as they were).
    /// </returns>
    /// <exception cref="ArgumentException">
    /// A message is invalid (the exception names it and the field), or two messages share an id (the exception names
    /// both indexes); nothing was written.
    /// </exception>
    Task<int> EnqueueAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Enqueues <paramref name="value"/> through <paramref name="transaction"/>, serialized as UTF-8 JSON with
    /// <see cref="Hosting.PostboxOptions.JsonOptions"/> (<see cref="System.Text.Json.JsonSerializerOptions.Web"/> by default),
    /// <see cref="OutboxMessage.Type"/> set to <typeparamref name="T"/>'s name and a <c>content-type</c> header of
    /// <c>application/json</c>; a new UUIDv7 id.
    /// </summary>
    /// <typeparam name="T">The payload type.</typeparam>
    /// <param name="transaction">The caller's open transaction; its connection is used.</param>
    /// <param name="topic">The destination (1 to 255 characters).</param>
    /// <param name="value">The value to serialize.</param>
    /// <param name="key">Optional ordering key: messages of one key are published and handled in enqueue order.</param>
    /// <param name="maxAttempts">Publish attempts before the message is dead; <see langword="null"/>: <c>Postbox:Relay:MaxAttempts</c>.</param>
    /// <param name="availableAt">Not published before this time; <see langword="null"/>: at once.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> (a new id is never already in the outbox).</returns>
    /// <exception cref="ArgumentException">The message is invalid (the exception names the field); nothing was written.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> cannot be serialized with the configured options.</exception>
    Task<bool> EnqueueAsync<T>(DbTransaction transaction, string topic, T value, string? key = null, int? maxAttempts = null,
        DateTimeOffset? availableAt = null, CancellationToken cancellationToken = default);
}
