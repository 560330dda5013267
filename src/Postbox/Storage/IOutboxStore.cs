namespace Postbox.Storage;

/// <summary>
/// Relay side of a store: claim due messages under a lease, settle their outcome, clean up delivered
/// rows. Implemented by each database provider; every provider runs the same conformance suite.
/// </summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public interface IOutboxStore
{
    /// <summary>
    /// Claims up to <see cref="ClaimRequest.BatchSize"/> due messages under a lease. A keyed message is claimed only when
    /// every earlier message of its key is settled (delivered, or dead under the skip policy) or claimed with it, in
    /// sequence order; a blocked key (its head in flight, waiting for a retry or a delay, or dead under the block
    /// policy) never delays another key or a keyless message, whatever the number of its followers. The cost of a claim
    /// is bounded by the batch size, not by the backlog: at most <see cref="ClaimRequest.BatchSize"/> keys are looked
    /// at, round-robin from <see cref="ClaimRequest.KeyCursor"/>. See docs/ordering.md.
    /// </summary>
    /// <param name="request">Who claims, how many, until when, from which key.</param>
    /// <param name="cancellationToken">Cancels the claim.</param>
    /// <returns>The claimed messages ordered by <see cref="OutboxEnvelope.Sequence"/>, and where to resume.</returns>
    Task<ClaimResult> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken);

    /// <summary>Records a batch outcome (delivered, failed, released) in one round trip.</summary>
    /// <param name="request">The outcome.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The number of rows changed; fewer than submitted means some leases were lost.</returns>
    Task<int> SettleAsync(SettleRequest request, CancellationToken cancellationToken);

    /// <summary>Deletes at most <paramref name="batchSize"/> delivered messages delivered before <paramref name="deliveredBefore"/>.
    /// Never touches an undelivered or dead message.</summary>
    /// <param name="deliveredBefore">Retention cut-off.</param>
    /// <param name="batchSize">Upper bound of rows deleted by this call.</param>
    /// <param name="cancellationToken">Cancels the delete.</param>
    /// <returns>The number of rows deleted.</returns>
    Task<int> PurgeDeliveredAsync(DateTimeOffset deliveredBefore, int batchSize, CancellationToken cancellationToken);

    /// <summary>Creation time of the oldest message not yet delivered nor dead, or <see langword="null"/> when none.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<DateTimeOffset?> GetOldestPendingAsync(CancellationToken cancellationToken);
}
