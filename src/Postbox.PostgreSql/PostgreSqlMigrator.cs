using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Postbox.Storage;

namespace Postbox.PostgreSql;

/// <summary>
/// Applies the embedded, versioned migrations (<c>Migrations/NNN_name.up.sql</c>) to the configured schema.
/// A session advisory lock serializes concurrent migrators, each migration runs in its own transaction
/// together with its bookkeeping row, so a failure leaves the schema at the last complete version.
/// </summary>
/// <remarks>
/// The bookkeeping table is <c>{schema}.postbox_migrations</c> (<c>version integer</c>, <c>name text</c>,
/// <c>applied_at timestamptz</c>), a name no other tool uses, so a schema shared with another migration tool (e.g.
/// golang-migrate's <c>schema_migrations</c> in <c>public</c>) is never mistaken for Postbox's. Before applying anything
/// the migrator checks that what it finds is what it expects, and otherwise throws
/// <see cref="InvalidOperationException"/> saying what it found: a bookkeeping table of another shape, a version this
/// build does not know, a table a recorded migration created that is missing, or a table a pending migration would
/// create that already exists. Bookkeeping written by earlier Postbox builds to <c>{schema}.schema_migrations</c> is
/// recognised by its exact shape and content and moved.
/// </remarks>
internal sealed partial class PostgreSqlMigrator : IPostboxMigrator
{
    /// <summary>The bookkeeping table's name inside the schema.</summary>
    public const string BookkeepingTable = "postbox_migrations";

    // Where builds before the rename kept the same rows; a table of this name is Postbox's only if shape and content say so.
    private const string LegacyBookkeepingTable = "schema_migrations";

    private static readonly (string Name, string Type)[] BookkeepingShape =
        [("version", "integer"), ("name", "text"), ("applied_at", "timestamp with time zone")];

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlSchema _schema;
    private readonly ILogger _logger;

    /// <summary>Creates a migrator.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the schema).</param>
    /// <param name="logger">Logger; optional.</param>
    public PostgreSqlMigrator(NpgsqlDataSource dataSource, PostgreSqlOptions options, ILogger<PostgreSqlMigrator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _schema = new PostgreSqlSchema(options.Schema);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The embedded migrations, in version order.</summary>
    public static IReadOnlyList<(int Version, string Name)> Migrations { get; } = EmbeddedMigrations.Load(typeof(PostgreSqlMigrator).Assembly).Select(m => (m.Version, m.Name)).ToArray();

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The schema is not what Postbox expects; the message says what was found.</exception>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        var migrations = EmbeddedMigrations.Load(typeof(PostgreSqlMigrator).Assembly);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({_schema.MigrationLockKey})", cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, null, $"CREATE SCHEMA IF NOT EXISTS {_schema.Quoted}", cancellationToken).ConfigureAwait(false);
            var bookkeeping = await ReadShapeAsync(connection, BookkeepingTable, cancellationToken).ConfigureAwait(false);
            if (bookkeeping is null)
            {
                await CreateBookkeepingAsync(connection, migrations, cancellationToken).ConfigureAwait(false);
            }
            else if (!bookkeeping.Matches(BookkeepingShape))
            {
                throw new InvalidOperationException(
                    $"The table {_schema.Name}.{BookkeepingTable} is not Postbox's migration bookkeeping: found {bookkeeping}, expected a table "
                    + $"({Describe(BookkeepingShape)}). Drop or rename it if it is not used, or give Postbox a schema of its own (Postbox:PostgreSql:Schema).");
            }

            var applied = await ReadAppliedAsync(connection, cancellationToken).ConfigureAwait(false);
            CheckApplied(applied, migrations);
            await CheckTablesAsync(connection, applied, migrations, cancellationToken).ConfigureAwait(false);

            var done = new List<int>();
            foreach (var migration in migrations.Where(m => !applied.ContainsKey(m.Version)))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(connection, transaction, migration.Sql.Replace("{schema}", _schema.Quoted, StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
                await using (var record = new NpgsqlCommand($"INSERT INTO {_schema.Quoted}.{BookkeepingTable} (version, name) VALUES ($1, $2)", connection, transaction))
                {
                    record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = migration.Version });
                    record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.Name });
                    await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                Log.MigrationApplied(_logger, migration.Version, migration.Name, _schema.Name);
                done.Add(migration.Version);
            }

            return done;
        }
        finally
        {
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({_schema.MigrationLockKey})", CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Creates the bookkeeping table, taking over the rows of an earlier Postbox build's <c>schema_migrations</c>.</summary>
    private async Task CreateBookkeepingAsync(NpgsqlConnection connection, List<EmbeddedMigration> migrations, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"""
            CREATE TABLE {_schema.Quoted}.{BookkeepingTable} (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, cancellationToken).ConfigureAwait(false);

        var legacy = await ReadShapeAsync(connection, LegacyBookkeepingTable, cancellationToken).ConfigureAwait(false);
        if (legacy is not null && legacy.Matches(BookkeepingShape))
        {
            var rows = await ReadRowsAsync(connection, transaction, LegacyBookkeepingTable, cancellationToken).ConfigureAwait(false);
            if (EmbeddedMigrations.AreOurs(rows, migrations))
            {
                await ExecuteAsync(connection, transaction, $"""
                    INSERT INTO {_schema.Quoted}.{BookkeepingTable} (version, name, applied_at)
                    SELECT version, name, applied_at FROM {_schema.Quoted}.{LegacyBookkeepingTable};
                    DROP TABLE {_schema.Quoted}.{LegacyBookkeepingTable};
                    """, cancellationToken).ConfigureAwait(false);
                Log.BookkeepingMoved(_logger, _schema.Name, LegacyBookkeepingTable, BookkeepingTable, rows.Count);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void CheckApplied(Dictionary<int, string> applied, List<EmbeddedMigration> migrations)
    {
        var known = migrations.ToDictionary(m => m.Version, m => m.Name);
        var latest = migrations.Count == 0 ? 0 : migrations[^1].Version;
        foreach (var (version, name) in applied.OrderBy(a => a.Key))
        {
            if (!known.TryGetValue(version, out var expected))
            {
                throw new InvalidOperationException(version > latest
                    ? $"The schema {_schema.Name} is at migration {version} ({name}), newer than this build of Postbox knows (up to {latest}): "
                        + "a newer Postbox migrated it. Run that version (or newer), or restore the schema to one this build knows."
                    : $"{_schema.Name}.{BookkeepingTable} records migration {version} ({name}), which this build of Postbox does not have "
                        + $"(it has {string.Join(", ", known.Keys)}): the table was not written by Postbox.");
            }

            if (expected != name)
            {
                throw new InvalidOperationException(
                    $"{_schema.Name}.{BookkeepingTable} records migration {version} as '{name}', but this build's migration {version} is '{expected}': "
                    + "the table was not written by this Postbox.");
            }
        }
    }

    /// <summary>The tables of applied migrations must exist, and those of pending ones must not (yet).</summary>
    private async Task CheckTablesAsync(NpgsqlConnection connection, Dictionary<int, string> applied, List<EmbeddedMigration> migrations, CancellationToken cancellationToken)
    {
        var expected = new Dictionary<string, int>(StringComparer.Ordinal);
        var pending = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var migration in migrations)
        {
            var target = applied.ContainsKey(migration.Version) ? expected : pending;
            foreach (Match created in CreatedTable().Matches(migration.Sql))
            {
                target[created.Groups[1].Value] = migration.Version;
            }

            foreach (Match dropped in DroppedTable().Matches(migration.Sql))
            {
                target.Remove(dropped.Groups[1].Value);
            }
        }

        foreach (var (table, version) in expected)
        {
            if (await ReadShapeAsync(connection, table, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new InvalidOperationException(
                    $"{_schema.Name}.{BookkeepingTable} records migration {version} ({applied[version]}) as applied, but its table {_schema.Name}.{table} "
                    + "does not exist: the schema was changed outside Postbox. Restore the table, or (losing nothing else) drop the schema's Postbox "
                    + "tables and the bookkeeping so the migrations run again.");
            }
        }

        foreach (var (table, version) in pending)
        {
            if (await ReadShapeAsync(connection, table, cancellationToken).ConfigureAwait(false) is { } found)
            {
                throw new InvalidOperationException(
                    $"Migration {version} would create {_schema.Name}.{table}, but a table of that name already exists ({found}) and "
                    + $"{_schema.Name}.{BookkeepingTable} does not record the migration: it belongs to something else. Give Postbox a schema of "
                    + "its own (Postbox:PostgreSql:Schema).");
            }
        }
    }

    /// <summary>The columns of table <paramref name="table"/> in the schema, or <see langword="null"/> when no relation has that name.</summary>
    private async Task<TableShape?> ReadShapeAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT c.relkind::text, a.attname::text, format_type(a.atttypid, a.atttypmod)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = $1 AND c.relname = $2
            ORDER BY a.attnum
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _schema.Name });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        string? kind = null;
        var columns = new List<(string, string)>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            kind = reader.GetString(0);
            if (!reader.IsDBNull(1))
            {
                columns.Add((reader.GetString(1), reader.GetString(2)));
            }
        }

        return kind is null ? null : new TableShape(kind, columns);
    }

    private async Task<Dictionary<int, string>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        await ReadRowsAsync(connection, null, BookkeepingTable, cancellationToken).ConfigureAwait(false);

    private async Task<Dictionary<int, string>> ReadRowsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<int, string>();
        await using var command = new NpgsqlCommand($"SELECT version, name FROM {_schema.Quoted}.{table}", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows[reader.GetInt32(0)] = reader.GetString(1);
        }

        return rows;
    }

    private static string Describe(IEnumerable<(string Name, string Type)> columns) => string.Join(", ", columns.Select(c => $"{c.Name} {c.Type}"));

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }



    [GeneratedRegex(@"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\{schema\}\.(\w+)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex CreatedTable();

    [GeneratedRegex(@"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?\{schema\}\.(\w+)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex DroppedTable();

    private sealed class TableShape(string kind, List<(string Name, string Type)> columns)
    {
        public bool Matches((string Name, string Type)[] expected) => kind == "r" && columns.SequenceEqual(expected);

        public override string ToString() => kind switch
        {
            "r" => $"a table ({Describe(columns)})",
            "v" or "m" => $"a view ({Describe(columns)})",
            _ => $"a relation of kind '{kind}' ({Describe(columns)})",
        };
    }
}
