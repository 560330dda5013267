using System.Data.Common;

namespace Postbox.Consumers;

/// <summary>
/// An open inbox transaction holding the row of the message being handled. Disposing it without
/// <see cref="CommitAsync"/> rolls it back.
/// </summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public abstract class InboxTransaction : IAsyncDisposable
{
    /// <summary>The transaction the handler joins.</summary>
    public abstract DbTransaction Transaction { get; }

    /// <summary>Commits the handler's work together with the inbox row.</summary>
    /// <param name="cancellationToken">Cancels the commit.</param>
    public abstract Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Whether the transaction was committed or rolled back by someone other than the runtime, i.e. by the handler,
    /// while its connection is still usable. Asked only after an attempt failed. The default looks at
    /// <see cref="DbTransaction.Connection"/>, which ADO.NET providers clear once a transaction completes; providers
    /// that keep it set override this.
    /// </summary>
    /// <param name="cancellationToken">Cancels a look-up the answer needs.</param>
    public virtual ValueTask<bool> IsEndedAsync(CancellationToken cancellationToken)
    {
        try
        {
            return ValueTask.FromResult(Transaction.Connection is null);
        }
        catch (ObjectDisposedException)
        {
            return ValueTask.FromResult(true);
        }
    }

    /// <summary>
    /// Turns an error of the attempt (thrown by the handler or by <see cref="CommitAsync"/>) into the one recorded for it,
    /// adding what the store knows: e.g. that the server ended the transaction because it stayed open longer than a
    /// server-side timeout allows. Returns <paramref name="failure"/> itself when there is nothing to add (the default).
    /// </summary>
    /// <param name="failure">The attempt's error.</param>
    /// <param name="cancellationToken">Cancels a look-up the explanation needs.</param>
    public virtual ValueTask<Exception> ExplainAsync(Exception failure, CancellationToken cancellationToken) => ValueTask.FromResult(failure);

    /// <summary>Rolls back unless committed, and releases the connection.</summary>
    public abstract ValueTask DisposeAsync();
}
