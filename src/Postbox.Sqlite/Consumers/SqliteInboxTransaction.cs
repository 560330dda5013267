using System.Data.Common;
using Microsoft.Data.Sqlite;
using Postbox.Consumers;

namespace Postbox.Sqlite.Consumers;

/// <summary>
/// A deferred SQLite transaction for one handling attempt. The inbox row is written at commit, not at begin: SQLite has
/// one writer, and holding the write lock for the whole handler would block every other connection (including the
/// handler's own status updates on a separate connection) until the handler returned.
/// </summary>
internal sealed class SqliteInboxTransaction(SqliteConnection connection, SqliteTransaction transaction, Func<SqliteTransaction, CancellationToken, Task> record, IDisposable keyLock)
    : InboxTransaction
{
    public override DbTransaction Transaction => transaction;

    public override async Task CommitAsync(CancellationToken cancellationToken)
    {
        await record(transaction, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            keyLock.Dispose();
        }
    }
}
