using System.Data.Common;
using System.Globalization;
using Npgsql;
using Postbox.Consumers;

namespace Postbox.PostgreSql.Consumers;

/// <summary>An open inbox transaction on its own pooled connection.</summary>
internal sealed class PostgreSqlInboxTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction, NpgsqlDataSource settingsSource, TimeProvider timeProvider)
    : InboxTransaction
{
    private readonly long _began = timeProvider.GetTimestamp();

    public override DbTransaction Transaction => transaction;

    public override Task CommitAsync(CancellationToken cancellationToken) => transaction.CommitAsync(cancellationToken);

    /// <summary>
    /// Npgsql keeps <see cref="NpgsqlTransaction.Connection"/> set after a commit or rollback, so ask the server: the
    /// inbox statement gave the transaction an id, and a session with none has no transaction of ours open any more.
    /// A broken connection (a server timeout, a lost server) is not the handler's doing.
    /// </summary>
    public override async ValueTask<bool> IsEndedAsync(CancellationToken cancellationToken)
    {
        if (connection.FullState != System.Data.ConnectionState.Open)
        {
            return false;
        }

        await using var command = new NpgsqlCommand("SELECT pg_current_xact_id_if_assigned() IS NULL", connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }

    /// <summary>
    /// Names the server setting that ended the transaction: the inbox transaction stays open while the handler runs, so
    /// a handler that spends longer outside the database than <c>idle_in_transaction_session_timeout</c> (25P03), or a
    /// whole attempt longer than <c>transaction_timeout</c> (25P04), loses its transaction and its connection; a
    /// statement longer than <c>statement_timeout</c> is cancelled (57014).
    /// </summary>
    public override async ValueTask<Exception> ExplainAsync(Exception failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var server = Find(failure);
        var setting = server?.SqlState switch
        {
            "25P03" => "idle_in_transaction_session_timeout",
            "25P04" => "transaction_timeout",
            PostgresErrorCodes.QueryCanceled when server.MessageText.Contains("statement timeout", StringComparison.OrdinalIgnoreCase) => "statement_timeout",
            _ => null,
        };
        if (setting is null)
        {
            return failure;
        }

        var elapsed = timeProvider.GetElapsedTime(_began);
        var value = await ReadSettingAsync(setting, cancellationToken).ConfigureAwait(false);
        var what = setting == "statement_timeout"
            ? "cancelled one of the handler's statements"
            : "ended the inbox transaction (and its connection), so the handler's work and the inbox row were rolled back";
        return new TimeoutException(string.Create(CultureInfo.InvariantCulture,
            $"PostgreSQL's {setting} ({value}) {what}; the inbox transaction had been open for {elapsed.TotalSeconds:0.0} s. The inbox transaction "
            + $"stays open while the handler runs: keep work outside the database short, raise {setting} for the worker's role "
            + $"(ALTER ROLE ... SET {setting} = ...), or record progress in a status row of its own (see docs/consumers.md). Server error {server!.SqlState}: {server.MessageText}"),
            failure);
    }

    public override async ValueTask DisposeAsync()
    {
        // Disposing an uncommitted transaction rolls it back; closing returns the connection to the pool.
        await transaction.DisposeAsync().ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private static PostgresException? Find(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is PostgresException postgres)
            {
                return postgres;
            }
        }

        return null;
    }

    // The value the server applies to this role and database, read on a fresh session (the failed one is gone).
    private async Task<string> ReadSettingAsync(string setting, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = settingsSource.CreateCommand($"SELECT current_setting('{setting}', true)");
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string ?? "unknown";
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return "value unknown: " + ex.Message;
        }
    }
}
