using System.Data.Common;
using Npgsql;

namespace Postbox.Service.Data;

/// <summary>The service's tables in PostgreSQL, in the configured schema (shared with Postbox's tables).</summary>
internal sealed class PostgreSqlAppDatabase(NpgsqlDataSource dataSource, string schema) : AppDatabase, IAsyncDisposable
{
    private readonly string _quoted = $"\"{schema}\"";

    public string QuotedSchema => _quoted;

    public NpgsqlDataSource DataSource => dataSource;

    public override string Table(string name) => $"{_quoted}.{name}";

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
    }

    public override object Id(Guid id) => id;

    /// <summary>
    /// Npgsql does not test a pooled connection when it hands it out, so after a server restart every idle connection
    /// fails on first use (57P01, or a reset socket). Clearing the data source's pool closes the idle ones and keeps
    /// the busy ones from returning to it, so the next open makes a fresh connection.
    /// </summary>
    public override void ClearPool() => dataSource.Clear();

    public override bool IsUniqueViolation(DbException exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
