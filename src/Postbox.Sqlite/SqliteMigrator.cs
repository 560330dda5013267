using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Postbox.Storage;

namespace Postbox.Sqlite;

/// <summary>
/// Applies the embedded migrations (<c>Migrations/NNN_name.up.sql</c>). Each runs in a <c>BEGIN IMMEDIATE</c>
/// transaction with its bookkeeping row, which also serializes concurrent migrators. Turns on WAL so the
/// relay can read while producers write.
/// </summary>
public sealed partial class SqliteMigrator : IPostboxMigrator
{
    private readonly string _connectionString;
    private readonly SqliteTables _tables;

    /// <summary>Creates a migrator.</summary>
    /// <param name="options">Store options.</param>
    public SqliteMigrator(SqliteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connectionString = options.ConnectionString ?? throw new ArgumentException("SqliteOptions.ConnectionString is required.", nameof(options));
        _tables = new SqliteTables(options.TablePrefix);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, $"""
            CREATE TABLE IF NOT EXISTS {_tables.Migrations} (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                applied_at INTEGER NOT NULL)
            """, cancellationToken).ConfigureAwait(false);

        var done = new List<int>();
        foreach (var (version, name, sql) in LoadMigrations())
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var check = new SqliteCommand($"SELECT count(*) FROM {_tables.Migrations} WHERE version = $v", connection, transaction))
            {
                check.Parameters.AddWithValue("$v", version);
                if ((long)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0)
                {
                    continue;
                }
            }

            await ExecuteAsync(connection, transaction, sql.Replace("{prefix}", _tables.Prefix, StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
            await using (var record = new SqliteCommand($"INSERT INTO {_tables.Migrations} (version, name, applied_at) VALUES ($v, $n, $t)", connection, transaction))
            {
                record.Parameters.AddWithValue("$v", version);
                record.Parameters.AddWithValue("$n", name);
                record.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.UtcTicks);
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            done.Add(version);
        }

        return done;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new SqliteCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static List<(int Version, string Name, string Sql)> LoadMigrations()
    {
        var assembly = typeof(SqliteMigrator).Assembly;
        var result = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = MigrationName().Match(resource);
            if (match.Success)
            {
                using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
                result.Add((int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), match.Groups[2].Value, reader.ReadToEnd()));
            }
        }

        result.Sort(static (a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }

    [GeneratedRegex(@"Migrations\.(\d{3})_([a-z0-9_]+)\.up\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex MigrationName();
}
