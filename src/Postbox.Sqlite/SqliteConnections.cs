using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Postbox.Sqlite;

/// <summary>Opens connections with the settings every Postbox statement relies on.</summary>
internal static class SqliteConnections
{
    /// <summary>The connection's <c>Default Timeout</c> in milliseconds; 0 (no limit) becomes SQLite's largest wait.</summary>
    public static long BusyTimeoutMilliseconds(SqliteConnection connection) =>
        connection.DefaultTimeout > 0 ? connection.DefaultTimeout * 1000L : int.MaxValue;

    public static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // Writers queue behind each other instead of failing at once; the relay and producers share the file. SQLite's
            // own wait follows the connection string's "Default Timeout" (Microsoft.Data.Sqlite's default 30 s), which also
            // bounds Microsoft.Data.Sqlite's retries of a busy statement: one limit, the one the user configured.
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds(connection)};");
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
