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

    public override bool IsUniqueViolation(DbException exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
