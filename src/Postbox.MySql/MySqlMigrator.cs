using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MySqlConnector;
using Postbox.Storage;

namespace Postbox.MySql;

/// <summary>
/// Applies the embedded, versioned migrations (<c>Migrations/NNN_name.up.sql</c>) to the connection's database and
/// records them in <c>{prefix}migrations</c>. A named lock (<c>GET_LOCK</c>, per database and prefix) serializes
/// concurrent migrators, so processes that start together apply each version once. MySQL commits DDL implicitly, so
/// a migration and its bookkeeping row cannot share a transaction; the migrations are written to be re-run safely
/// instead (<c>IF NOT EXISTS</c>, <c>INSERT IGNORE</c>).
/// </summary>
internal sealed partial class MySqlMigrator : IPostboxMigrator
{
    // Long enough for another process's migration to finish; a migrator that cannot get the lock fails loudly.
    private const int LockTimeoutSeconds = 300;

    private readonly MySqlDataSource _dataSource;
    private readonly MySqlTables _tables;
    private readonly ILogger _logger;

    /// <summary>Creates a migrator.</summary>
    /// <param name="dataSource">Connection source (its database holds the tables).</param>
    /// <param name="options">Store options (the table prefix).</param>
    /// <param name="logger">Logger; optional.</param>
    public MySqlMigrator(MySqlDataSource dataSource, MySqlOptions options, ILogger<MySqlMigrator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _tables = new MySqlTables(options.TablePrefix);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The embedded migrations, in version order.</summary>
    public static IReadOnlyList<(int Version, string Name)> Migrations { get; } = EmbeddedMigrations.Load(typeof(MySqlMigrator).Assembly).Select(m => (m.Version, m.Name)).ToArray();

    /// <inheritdoc />
    /// <exception cref="TimeoutException">Another migrator held the lock for longer than five minutes.</exception>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var database = connection.Database;
        if (string.IsNullOrEmpty(database))
        {
            throw new InvalidOperationException("The MySQL connection string names no database (Database=...): Postbox's tables need one.");
        }

        // Lock names are server-wide and at most 64 characters: hash the database and prefix.
        const string LockName = "CONCAT('postbox:migrate:', LEFT(SHA2(CONCAT(DATABASE(), '.', @prefix), 256), 32))";
        await using (var acquire = new MySqlCommand($"SELECT GET_LOCK({LockName}, {LockTimeoutSeconds})", connection))
        {
            acquire.Parameters.AddWithValue("@prefix", _tables.Prefix);
            acquire.CommandTimeout = LockTimeoutSeconds + 30;
            if (Convert.ToInt64(await acquire.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) != 1)
            {
                throw new TimeoutException($"Another process held Postbox's migration lock on database {database} for more than {LockTimeoutSeconds} s.");
            }
        }

        try
        {
            await ExecuteAsync(connection, $"""
                CREATE TABLE IF NOT EXISTS {_tables.Migrations} (
                    version    INT          NOT NULL PRIMARY KEY,
                    name       VARCHAR(200) NOT NULL,
                    applied_at DATETIME(6)  NOT NULL DEFAULT UTC_TIMESTAMP(6)
                ) ENGINE = InnoDB
                """, cancellationToken).ConfigureAwait(false);

            var applied = new HashSet<int>();
            await using (var command = new MySqlCommand($"SELECT version FROM {_tables.Migrations}", connection))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    applied.Add(reader.GetInt32(0));
                }
            }

            // The binary collation without trailing-space padding has a different name on each server (both compare
            // code points, which is UTF-8 byte order).
            var mariaDb = connection.ServerVersion.Contains("MariaDB", StringComparison.OrdinalIgnoreCase);
            var noPadBinary = mariaDb ? "utf8mb4_nopad_bin" : "utf8mb4_0900_bin";
            // MariaDB can add an index only if it is missing, so a migration that adds one can be re-run after a crash
            // before its bookkeeping row; MySQL 8.0 has no such clause.
            var addIndexIfMissing = mariaDb ? "ADD INDEX IF NOT EXISTS" : "ADD INDEX";
            var done = new List<int>();
            foreach (var migration in EmbeddedMigrations.Load(typeof(MySqlMigrator).Assembly).Where(m => !applied.Contains(m.Version)))
            {
                var sql = migration.Sql.Replace("{prefix}", _tables.Prefix, StringComparison.Ordinal).Replace("{nopad_bin}", noPadBinary, StringComparison.Ordinal)
                    .Replace("{add_index_if_missing}", addIndexIfMissing, StringComparison.Ordinal);
                await ExecuteAsync(connection, sql, cancellationToken).ConfigureAwait(false);
                await using (var record = new MySqlCommand($"INSERT INTO {_tables.Migrations} (version, name) VALUES (@version, @name)", connection))
                {
                    record.Parameters.AddWithValue("@version", migration.Version);
                    record.Parameters.AddWithValue("@name", migration.Name);
                    await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                Log.MigrationApplied(_logger, migration.Version, migration.Name, database, _tables.Prefix);
                done.Add(migration.Version);
            }

            return done;
        }
        finally
        {
            await using var release = new MySqlCommand($"DO RELEASE_LOCK({LockName})", connection);
            release.Parameters.AddWithValue("@prefix", _tables.Prefix);
            await release.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task ExecuteAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }


}
