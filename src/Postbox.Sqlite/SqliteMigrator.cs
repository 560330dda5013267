using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Postbox.Storage;

namespace Postbox.Sqlite;

/// <summary>
/// Applies the embedded migrations (<c>Migrations/NNN_name.up.sql</c>). Each runs in a <c>BEGIN IMMEDIATE</c>
/// transaction with its bookkeeping row, which also serializes concurrent migrators. Turns on WAL so the
/// relay can read while producers write.
/// </summary>
/// <remarks>
/// The bookkeeping table is <c>{prefix}postbox_migrations</c> (<c>postbox_migrations</c> with the default prefix), a
/// name no other tool uses. Before applying anything the migrator checks that what it finds is what it expects, and
/// otherwise throws <see cref="InvalidOperationException"/> saying what it found: a bookkeeping table of another shape,
/// a version this build does not know, a table a recorded migration created that is missing, or a table a pending
/// migration would create that already exists. Bookkeeping of earlier builds (<c>{prefix}schema_migrations</c>) is
/// recognised by its exact shape and content and moved.
/// </remarks>
internal sealed partial class SqliteMigrator : IPostboxMigrator
{
    private static readonly (string Name, string Type)[] BookkeepingShape = [("version", "INTEGER"), ("name", "TEXT"), ("applied_at", "INTEGER")];

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

    /// <summary>The embedded migrations, in version order.</summary>
    public static IReadOnlyList<(int Version, string Name)> Migrations { get; } = EmbeddedMigrations.Load(typeof(SqliteMigrator).Assembly).Select(m => (m.Version, m.Name)).ToArray();

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The database is not what Postbox expects; the message says what was found.</exception>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        var migrations = EmbeddedMigrations.Load(typeof(SqliteMigrator).Assembly);
        await using var connection = await SqliteConnections.OpenAsync(_connectionString, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken).ConfigureAwait(false);
        await using (var setup = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            var shape = await ReadShapeAsync(connection, setup, _tables.Migrations, cancellationToken).ConfigureAwait(false);
            if (shape is null)
            {
                await CreateBookkeepingAsync(connection, setup, migrations, cancellationToken).ConfigureAwait(false);
            }
            else if (!shape.SequenceEqual(BookkeepingShape))
            {
                throw new InvalidOperationException(
                    $"The table {_tables.Migrations} is not Postbox's migration bookkeeping: found columns ({Describe(shape)}), expected "
                    + $"({Describe(BookkeepingShape)}). Drop or rename it if it is not used, or set another Postbox:Sqlite:TablePrefix.");
            }

            var applied = await ReadRowsAsync(connection, setup, _tables.Migrations, cancellationToken).ConfigureAwait(false);
            await CheckAsync(connection, setup, applied, migrations, cancellationToken).ConfigureAwait(false);
            await setup.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        var done = new List<int>();
        foreach (var migration in migrations)
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var check = new SqliteCommand($"SELECT count(*) FROM {_tables.Migrations} WHERE version = $v", connection, transaction))
            {
                check.Parameters.AddWithValue("$v", migration.Version);
                if ((long)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0)
                {
                    continue;
                }
            }

            await ExecuteAsync(connection, transaction, migration.Sql.Replace("{prefix}", _tables.Prefix, StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
            await using (var record = new SqliteCommand($"INSERT INTO {_tables.Migrations} (version, name, applied_at) VALUES ($v, $n, $t)", connection, transaction))
            {
                record.Parameters.AddWithValue("$v", migration.Version);
                record.Parameters.AddWithValue("$n", migration.Name);
                record.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.UtcTicks);
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            done.Add(migration.Version);
        }

        return done;
    }

    private async Task CreateBookkeepingAsync(SqliteConnection connection, SqliteTransaction transaction, List<EmbeddedMigration> migrations, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, $"""
            CREATE TABLE {_tables.Migrations} (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                applied_at INTEGER NOT NULL)
            """, cancellationToken).ConfigureAwait(false);
        var legacy = await ReadShapeAsync(connection, transaction, _tables.LegacyMigrations, cancellationToken).ConfigureAwait(false);
        if (legacy is null || !legacy.SequenceEqual(BookkeepingShape))
        {
            return;
        }

        var rows = await ReadRowsAsync(connection, transaction, _tables.LegacyMigrations, cancellationToken).ConfigureAwait(false);
        if (EmbeddedMigrations.AreOurs(rows, migrations))
        {
            await ExecuteAsync(connection, transaction, $"""
                INSERT INTO {_tables.Migrations} (version, name, applied_at) SELECT version, name, applied_at FROM {_tables.LegacyMigrations};
                DROP TABLE {_tables.LegacyMigrations};
                """, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CheckAsync(SqliteConnection connection, SqliteTransaction transaction, Dictionary<int, string> applied, List<EmbeddedMigration> migrations, CancellationToken cancellationToken)
    {
        var known = migrations.ToDictionary(m => m.Version, m => m.Name);
        var latest = migrations.Count == 0 ? 0 : migrations[^1].Version;
        foreach (var (version, name) in applied.OrderBy(a => a.Key))
        {
            if (!known.TryGetValue(version, out var expected))
            {
                throw new InvalidOperationException(version > latest
                    ? $"The database is at Postbox migration {version} ({name}), newer than this build knows (up to {latest}): a newer Postbox "
                        + "migrated it. Run that version (or newer)."
                    : $"{_tables.Migrations} records migration {version} ({name}), which this build of Postbox does not have: the table was not written by Postbox.");
            }

            if (expected != name)
            {
                throw new InvalidOperationException(
                    $"{_tables.Migrations} records migration {version} as '{name}', but this build's migration {version} is '{expected}': the table was not written by this Postbox.");
            }
        }

        foreach (var migration in migrations)
        {
            var isApplied = applied.ContainsKey(migration.Version);
            foreach (Match created in CreatedTable().Matches(migration.Sql))
            {
                var table = _tables.Prefix + created.Groups[1].Value;
                var exists = await ReadShapeAsync(connection, transaction, table, cancellationToken).ConfigureAwait(false) is not null;
                if (isApplied && !exists)
                {
                    throw new InvalidOperationException(
                        $"{_tables.Migrations} records migration {migration.Version} ({migration.Name}) as applied, but its table {table} does not exist: "
                        + "the database was changed outside Postbox.");
                }

                if (!isApplied && exists)
                {
                    throw new InvalidOperationException(
                        $"Migration {migration.Version} would create {table}, but a table of that name already exists and {_tables.Migrations} does not "
                        + "record the migration: it belongs to something else. Set another Postbox:Sqlite:TablePrefix.");
                }
            }
        }
    }

    /// <summary>The declared columns of <paramref name="table"/>, or <see langword="null"/> when it does not exist.</summary>
    private static async Task<List<(string Name, string Type)>?> ReadShapeAsync(SqliteConnection connection, SqliteTransaction transaction, string table, CancellationToken cancellationToken)
    {
        await using (var exists = new SqliteCommand("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $t", connection, transaction))
        {
            exists.Parameters.AddWithValue("$t", table);
            if ((long)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! == 0)
            {
                return null;
            }
        }

        var columns = new List<(string, string)>();
        await using var command = new SqliteCommand("SELECT name, upper(type) FROM pragma_table_info($t) ORDER BY cid", connection, transaction);
        command.Parameters.AddWithValue("$t", table);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            columns.Add((reader.GetString(0), reader.GetString(1)));
        }

        return columns;
    }

    private static async Task<Dictionary<int, string>> ReadRowsAsync(SqliteConnection connection, SqliteTransaction transaction, string table, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<int, string>();
        await using var command = new SqliteCommand($"SELECT version, name FROM {table}", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows[reader.GetInt32(0)] = reader.GetString(1);
        }

        return rows;
    }

    private static string Describe(IEnumerable<(string Name, string Type)> columns) => string.Join(", ", columns.Select(c => $"{c.Name} {c.Type}"));

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new SqliteCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }



    [GeneratedRegex(@"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\{prefix\}(\w+)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex CreatedTable();
}
