using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Postbox.Service.Data;

/// <summary>The service's tables in a SQLite file (the out-of-the-box run).</summary>
internal sealed class SqliteAppDatabase : AppDatabase
{
    /// <summary>
    /// How long a statement of the service waits for another connection's write lock when the connection string sets no
    /// <c>Default Timeout</c>. The API answers a request that waited this long <c>503</c> with <c>Retry-After</c>: a
    /// client is better served by a prompt "try again" than by an answer after Microsoft.Data.Sqlite's default 30 s,
    /// which outlasts most clients' own time-outs. Workers retry what fails here, so it costs them nothing.
    /// </summary>
    public const int DefaultBusyTimeoutSeconds = 5;

    private readonly string _connectionString;
    private readonly int _busyTimeoutSeconds;

    public SqliteAppDatabase(string connectionString)
    {
        _connectionString = connectionString;
        var builder = new SqliteConnectionStringBuilder(connectionString);
        _busyTimeoutSeconds = builder.ShouldSerialize("Default Timeout") ? builder.DefaultTimeout : DefaultBusyTimeoutSeconds;
    }

    /// <summary>Creates the database file's folder (the default file lives under <c>data/</c>), so the first run needs no preparation.</summary>
    public void CreateFolder()
    {
        var path = new SqliteConnectionStringBuilder(_connectionString).DataSource;
        if (!string.IsNullOrEmpty(path) && path != ":memory:" && Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }
    }

    public string ConnectionString => _connectionString;

    public override string Table(string name) => name;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        // The limit of Microsoft.Data.Sqlite's retries of a busy statement, and (below) of SQLite's own wait for the lock.
        var connection = new SqliteConnection(_connectionString) { DefaultTimeout = _busyTimeoutSeconds };
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // The API, the relay and the worker share the file: wait for the write lock (a while) instead of failing.
            var busyMilliseconds = _busyTimeoutSeconds > 0 ? _busyTimeoutSeconds * 1000L : int.MaxValue;
            await using var pragma = Command(connection, null,
                string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {busyMilliseconds}; PRAGMA foreign_keys = ON;"));
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        // Microsoft.Data.Sqlite begins with BEGIN IMMEDIATE unless asked for a deferred transaction.
        return await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
    }

    public override object Id(Guid id) => id.ToString("D");

    // SQLITE_CONSTRAINT (19); the extended code tells a unique/primary key violation from the others.
    public override bool IsUniqueViolation(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };
}
