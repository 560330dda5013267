using System.Data.Common;
using System.Runtime.CompilerServices;

namespace Postbox.Service.Data;

/// <summary>
/// The service's own tables on SQLite or PostgreSQL. The SQL is shared (named <c>@parameters</c>, <c>RETURNING</c>,
/// <c>ON CONFLICT</c> exist in both); only connection handling, table qualification and id binding differ.
/// </summary>
internal abstract class AppDatabase
{
    // Whether the current request began committing. The API retries a request that met a broken pooled connection only
    // while nothing was committed: after a commit began (even one that failed, whose outcome is unknown) a replay could
    // write twice. Ambient because the commit happens deep in the services; scoped by the API's middleware per request.
    private static readonly AsyncLocal<StrongBox<bool>?> CommitStarted = new();

    /// <summary>Starts tracking commits for the current async flow (one request); the box turns true once one begins.</summary>
    public static StrongBox<bool> TrackCommits()
    {
        var box = new StrongBox<bool>();
        CommitStarted.Value = box;
        return box;
    }

    /// <summary>
    /// Commits <paramref name="transaction"/> without a cancellation token (once committing starts, the caller waits for
    /// the outcome), and notes that a commit began, see <see cref="TrackCommits"/>.
    /// </summary>
    public static async Task CommitAsync(DbTransaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        if (CommitStarted.Value is { } box)
        {
            box.Value = true;
        }

        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Drops the idle pooled connections (after a connection broke, the others are likely broken too).</summary>
    public virtual void ClearPool()
    {
    }

    /// <summary>Table name as used in SQL: schema-qualified on PostgreSQL, plain on SQLite.</summary>
    public abstract string Table(string name);

    /// <summary>Opens a connection with the settings every statement relies on.</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Begins a write transaction. On SQLite it takes the write lock at once (<c>BEGIN IMMEDIATE</c>): a deferred
    /// transaction that read first cannot upgrade once another connection wrote, and would fail instead of waiting.
    /// </summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>How a <see cref="Guid"/> is bound: <c>uuid</c> on PostgreSQL, canonical text on SQLite (readable with the sqlite3 shell).</summary>
    public abstract object Id(Guid id);

    /// <summary>Whether <paramref name="exception"/> is a unique-constraint violation.</summary>
    public abstract bool IsUniqueViolation(DbException exception);

    /// <summary>
    /// The database's spelling of a statement written in the shared SQL (SQLite and PostgreSQL run it as written; MySQL
    /// rewrites the constructs it lacks, see <see cref="MySqlAppDatabase"/>).
    /// </summary>
    public virtual string Dialect(string sql) => sql;

    /// <summary>Creates a command with named parameters (<see langword="null"/> becomes <c>NULL</c>).</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(parameters);
        var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // The SQL is built from constants and configured, validated table names; values are parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
