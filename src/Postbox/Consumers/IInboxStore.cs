namespace Postbox.Consumers;

/// <summary>
/// Runtime side of the inbox: records handled messages in the handler's transaction, keeps failed messages for
/// durable retries and dead letters. Implemented by each database provider (<c>UsePostgreSqlInbox()</c>).
/// </summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public interface IInboxStore
{
    /// <summary>
    /// For a delivery from the broker: opens a transaction that already records <c>(messageId, consumer)</c> as
    /// processed. Returns <see langword="null"/> when the pair is already recorded (handled, waiting for a retry or
    /// dead): the delivery is a duplicate. A concurrent duplicate waits until the first transaction ends.
    /// </summary>
    /// <param name="messageId">The message id.</param>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="topic">The topic, kept with the row.</param>
    /// <param name="now">The handling time.</param>
    /// <param name="cancellationToken">Cancels opening the transaction.</param>
    Task<InboxTransaction?> BeginAsync(Guid messageId, string consumer, string topic, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// For a keyed delivery of a consumer that orders by key: like <see cref="BeginAsync"/>, but only when this consumer
    /// has no unfinished message of <paramref name="key"/> — one waiting for a retry or parked (retrying state), or, when
    /// <paramref name="deadBlocksKey"/>, a dead letter. Otherwise nothing is opened and
    /// <see cref="KeyedInboxBegin.KeyBlocked"/> is set: the caller parks the message (<see cref="ParkAsync"/>). A
    /// duplicate answers with neither. Checked in the same statement as the insert (one round trip).
    /// </summary>
    /// <param name="messageId">The message id.</param>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="topic">The topic, kept with the row.</param>
    /// <param name="key">The ordering key.</param>
    /// <param name="deadBlocksKey">Whether a dead letter of the key holds it (<see cref="Relay.DeadKeyPolicy.Block"/>).</param>
    /// <param name="now">The handling time.</param>
    /// <param name="cancellationToken">Cancels opening the transaction.</param>
    Task<KeyedInboxBegin> BeginInKeyOrderAsync(Guid messageId, string consumer, string topic, string key, bool deadBlocksKey, DateTimeOffset now,
        CancellationToken cancellationToken);

    /// <summary>
    /// Keeps a keyed message behind the unfinished earlier messages of its key, in arrival order: a retrying row with
    /// no attempt made yet, due at once, which <see cref="ClaimRetriesAsync"/> hands out only when every earlier row of
    /// its key for the consumer is finished (for consumers listed in <see cref="RetryClaimRequest.OrderedConsumers"/>).
    /// Returns <see langword="false"/> when the message is already recorded (a duplicate).
    /// </summary>
    /// <param name="parking">The message.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task<bool> ParkAsync(InboxParking parking, CancellationToken cancellationToken);

    /// <summary>
    /// For a retry claimed by <paramref name="owner"/>: opens a transaction that marks the row processed. Returns
    /// <see langword="null"/> when <paramref name="owner"/> no longer holds the retry.
    /// </summary>
    /// <param name="messageId">The message id.</param>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="owner">The claiming process.</param>
    /// <param name="now">The handling time.</param>
    /// <param name="cancellationToken">Cancels opening the transaction.</param>
    Task<InboxTransaction?> BeginRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Records a failed attempt in its own transaction: schedules the next attempt or dead-letters the message, keeping
    /// the payload and the error history. Returns <see langword="false"/> when nothing changed (the message was handled
    /// meanwhile, or the retry's lease was lost).
    /// </summary>
    /// <param name="failure">The failure.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task<bool> RecordFailureAsync(InboxFailure failure, CancellationToken cancellationToken);

    /// <summary>Claims due retries under a lease (until <see cref="RetryClaimRequest.LeaseUntil"/>).</summary>
    /// <param name="request">Who claims what.</param>
    /// <param name="cancellationToken">Cancels the claim.</param>
    Task<IReadOnlyList<InboxRetry>> ClaimRetriesAsync(RetryClaimRequest request, CancellationToken cancellationToken);

    /// <summary>Hands a claimed retry back unattempted (shutdown): due at <paramref name="now"/>.</summary>
    /// <param name="messageId">The message id.</param>
    /// <param name="consumer">The consumer name.</param>
    /// <param name="owner">The claiming process.</param>
    /// <param name="now">The new due time.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task ReleaseRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Deletes at most <paramref name="batchSize"/> processed rows older than <paramref name="processedBefore"/>; never a retry or a dead letter.</summary>
    /// <param name="processedBefore">Retention cut-off.</param>
    /// <param name="batchSize">Upper bound of rows deleted.</param>
    /// <param name="cancellationToken">Cancels the delete.</param>
    Task<int> PurgeProcessedAsync(DateTimeOffset processedBefore, int batchSize, CancellationToken cancellationToken);
}
