using System.Data.Common;
using System.Text.RegularExpressions;
using MySqlConnector;

namespace Postbox.Service.Data;

/// <summary>
/// The service's tables in MySQL/MariaDB, in the connection's database (shared with Postbox's <c>postbox_</c> tables).
/// The connection reads and writes ids as <c>BINARY(16)</c> (<c>GuidFormat=Binary16</c>, set here whatever the
/// configured string says).
/// </summary>
internal sealed partial class MySqlAppDatabase(string connectionString) : AppDatabase, IAsyncDisposable
{
    private readonly MySqlDataSource _dataSource = new(WithBinaryIds(connectionString));

    /// <summary>The connection string as the service uses it: ids as <c>BINARY(16)</c>.</summary>
    public static string WithBinaryIds(string connectionString) =>
        new MySqlConnectionStringBuilder(connectionString) { GuidFormat = MySqlGuidFormat.Binary16 }.ConnectionString;

    public override string Table(string name) => name;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
    }

    public override object Id(Guid id) => id;

    public override bool IsUniqueViolation(DbException exception) =>
        exception is MySqlException { ErrorCode: MySqlErrorCode.DuplicateKeyEntry };

    /// <summary>
    /// MySQL's spelling of the two constructs the shared SQL uses that it lacks: <c>INSERT … ON CONFLICT (c) DO NOTHING</c>
    /// becomes <c>INSERT IGNORE …</c> (0 rows on a duplicate, and the transaction goes on), and <c>UPDATE … WHERE … RETURNING
    /// cols</c> of one row by <c>@id</c> becomes the update followed, in the same round trip, by a SELECT of that row
    /// that returns nothing when the update matched no row (<c>ROW_COUNT()</c> is the update's matched rows).
    /// </summary>
    public override string Dialect(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var insert = InsertOnConflictDoNothing().Match(sql);
        if (insert.Success)
        {
            return $"INSERT IGNORE INTO {insert.Groups["rest"].Value}";
        }

        var update = UpdateReturning().Match(sql);
        if (update.Success)
        {
            var table = update.Groups["table"].Value;
            return $"UPDATE {table} SET {update.Groups["set"].Value} WHERE {update.Groups["where"].Value}; " +
                   $"SELECT {update.Groups["columns"].Value} FROM {table} WHERE id = @id AND ROW_COUNT() > 0";
        }

        return sql;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    [GeneratedRegex(@"^\s*INSERT INTO (?<rest>.*?)\s+ON CONFLICT \(\w+\) DO NOTHING\s*$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex InsertOnConflictDoNothing();

    [GeneratedRegex(@"^\s*UPDATE (?<table>\S+) SET (?<set>.*?)\s+WHERE (?<where>.*?)\s+RETURNING (?<columns>.*?)\s*$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex UpdateReturning();
}
