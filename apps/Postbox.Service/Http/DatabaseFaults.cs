using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using MySqlConnector;
using Npgsql;

namespace Postbox.Service.Http;

/// <summary>Which database failures are the database being unreachable (a <c>503</c>), not a fault of the request or the code.</summary>
internal static class DatabaseFaults
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    /// <summary>
    /// PostgreSQL unreachable, shutting down or starting up (class 08, 57P01–57P03, too many connections), any other
    /// Npgsql failure that is not a server answer (connect, I/O, time-out, pool exhausted), or SQLite busy/locked after
    /// its busy timeout. A server answer such as a unique violation or a syntax error is not: it stays a bug (500).
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres:
                    return IsConnectionState(postgres.SqlState) || postgres.SqlState is PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections;
                case NpgsqlException:
                    return true;
                case SqliteException sqlite:
                    return sqlite.SqliteErrorCode is SqliteBusy or SqliteLocked;
                case MySqlException mysql:
                    // Cannot connect, connection lost, server shutting down, too many connections, lock time-outs.
                    return mysql.IsTransient || mysql.ErrorCode is MySqlErrorCode.UnableToConnectToHost;
            }
        }

        return false;
    }

    /// <summary>
    /// A connection that was open broke (the server terminated it, 57P01/57P02/class 08, or the socket was reset/closed):
    /// typical of a stale pooled connection after a restart, so one retry on a fresh connection can succeed. Failing to
    /// connect at all is not: a retry would only fail again.
    /// </summary>
    public static bool IsBrokenConnection(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres:
                    return IsConnectionState(postgres.SqlState) && postgres.SqlState is not PostgresErrorCodes.SqlClientUnableToEstablishSqlConnection
                        and not PostgresErrorCodes.SqlServerRejectedEstablishmentOfSqlConnection;
                case NpgsqlException when e.InnerException is IOException or EndOfStreamException:
                    return true;
                case NpgsqlException when e.InnerException is SocketException socket:
                    return socket.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown or SocketError.NotConnected;
            }
        }

        return false;
    }

    /// <summary>One line for the log: the database's code and message, never the connection string.</summary>
    public static string Describe(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres:
                    return $"PostgreSQL {postgres.SqlState}: {postgres.MessageText}";
                case NpgsqlException npgsql:
                    return npgsql.InnerException is { } inner ? $"{npgsql.Message} ({inner.GetType().Name}: {inner.Message})" : npgsql.Message;
                case SqliteException sqlite:
                    return $"SQLite {sqlite.SqliteErrorCode}: {sqlite.Message}";
                case MySqlException mysql:
                    return $"MySQL {mysql.ErrorCode}: {mysql.Message}";
            }
        }

        return $"{exception.GetType().Name}: {exception.Message}";
    }

    private static bool IsConnectionState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown;
}
