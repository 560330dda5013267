using System.Data.Common;
using MySqlConnector;
using Postbox.Consumers;

namespace Postbox.MySql.Consumers;

/// <summary>An open inbox transaction on its own pooled connection.</summary>
internal sealed class MySqlInboxTransaction(MySqlConnection connection, MySqlTransaction transaction) : InboxTransaction
{
    public override DbTransaction Transaction => transaction;

    public override Task CommitAsync(CancellationToken cancellationToken) => transaction.CommitAsync(cancellationToken);

    public override async ValueTask DisposeAsync()
    {
        // Disposing an uncommitted transaction rolls it back; closing returns the connection to the pool.
        await transaction.DisposeAsync().ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
