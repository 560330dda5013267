using System.Data.Common;

namespace Postbox.Consumers;

/// <summary>
/// An open inbox transaction holding the row of the message being handled. Disposing it without
/// <see cref="CommitAsync"/> rolls it back.
/// </summary>
public abstract class InboxTransaction : IAsyncDisposable
{
    /// <summary>The transaction the handler joins.</summary>
    public abstract DbTransaction Transaction { get; }

    /// <summary>Commits the handler's work together with the inbox row.</summary>
    /// <param name="cancellationToken">Cancels the commit.</param>
    public abstract Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>Rolls back unless committed, and releases the connection.</summary>
    public abstract ValueTask DisposeAsync();
}
