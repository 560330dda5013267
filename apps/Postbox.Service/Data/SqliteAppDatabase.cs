using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Postbox.Service.Data;

/// <summary>The service's tables in a SQLite file (the out-of-the-box run).</summary>
internal sealed class SqliteAppDatabase : AppDatabase
{
    private readonly string _connectionString;

    public SqliteAppDatabase(string connectionString)
    {
        _connectionString = connectionString;
        // The default file lives under data/; create the folder so the first run needs no preparation.
        var path = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (!string.IsNullOrEmpty(path) && path != ":memory:" && Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }
    }

    public string ConnectionString => _connectionString;

    public override string Table(string name) => name;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // The API, the relay and the worker share the file: wait for the write lock instead of failing.
            await using var pragma = Command(connection, null, "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;");
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
