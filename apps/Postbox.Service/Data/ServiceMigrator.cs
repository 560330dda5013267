using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Postbox.Service.Hosting;

namespace Postbox.Service.Data;

/// <summary>
/// Applies the service's embedded migrations (<c>Data/Migrations/{Sqlite|PostgreSql}/NNN_name.up.sql</c>), each in one
/// transaction with its bookkeeping row in <c>service_migrations</c>. Concurrent migrators (api, relay and worker
/// starting together) are serialized by <c>BEGIN IMMEDIATE</c> on SQLite, an advisory lock on PostgreSQL and a named
/// lock (<c>GET_LOCK</c>) on MySQL, where DDL commits implicitly: there the migrations are written to be re-run safely.
/// </summary>
internal sealed partial class ServiceMigrator(AppDatabase database, TimeProvider timeProvider, ILogger<ServiceMigrator> logger)
{
    // Any constant works; it only has to differ from the advisory locks other code takes on the same database.
    private const long AdvisoryLock = 0x706f7374626f78; // "postbox"

    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken)
    {
        if (database is MySqlAppDatabase)
        {
            return await MigrateMySqlAsync(cancellationToken).ConfigureAwait(false);
        }

        var postgres = database is PostgreSqlAppDatabase;
        var bookkeeping = database.Table("service_migrations");
        var applied = new List<int>();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (version, name, sql) in Load(postgres ? "PostgreSql" : "Sqlite"))
        {
            await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            var setup = postgres
                ? $"""
                   SELECT pg_advisory_xact_lock({AdvisoryLock});
                   CREATE SCHEMA IF NOT EXISTS {((PostgreSqlAppDatabase)database).QuotedSchema};
                   CREATE TABLE IF NOT EXISTS {bookkeeping} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL);
                   """
                : $"CREATE TABLE IF NOT EXISTS {bookkeeping} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);";
            await using (var command = AppDatabase.Command(connection, transaction, setup))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var check = AppDatabase.Command(connection, transaction, $"SELECT count(*) FROM {bookkeeping} WHERE version = @v", ("v", version)))
            {
                if (Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0)
                {
                    continue;
                }
            }

            var text = postgres ? sql.Replace("{schema}", ((PostgreSqlAppDatabase)database).QuotedSchema, StringComparison.Ordinal) : sql;
            await using (var migrate = AppDatabase.Command(connection, transaction, text))
            {
                await migrate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var record = AppDatabase.Command(connection, transaction, $"INSERT INTO {bookkeeping} (version, name, applied_at) VALUES (@v, @n, @t)",
                ("v", version), ("n", name), ("t", timeProvider.GetUtcNow())))
            {
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            ServiceLog.MigrationApplied(logger, version, name);
            applied.Add(version);
        }

        return applied;
    }

    private async Task<IReadOnlyList<int>> MigrateMySqlAsync(CancellationToken cancellationToken)
    {
        const string Lock = "CONCAT('postbox-service:migrate:', LEFT(SHA2(DATABASE(), 256), 32))";
        var applied = new List<int>();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var acquire = AppDatabase.Command(connection, null, $"SELECT GET_LOCK({Lock}, 300)"))
        {
            if (Convert.ToInt64(await acquire.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) != 1)
            {
                throw new TimeoutException("Another process held the service's migration lock for more than 300 s.");
            }
        }

        try
        {
            await using (var setup = AppDatabase.Command(connection, null,
                "CREATE TABLE IF NOT EXISTS service_migrations (version INT NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at DATETIME(6) NOT NULL) ENGINE = InnoDB"))
            {
                await setup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            foreach (var (version, name, sql) in Load("MySql"))
            {
                await using (var check = AppDatabase.Command(connection, null, "SELECT count(*) FROM service_migrations WHERE version = @v", ("v", version)))
                {
                    if (Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0)
                    {
                        continue;
                    }
                }

                await using (var migrate = AppDatabase.Command(connection, null, sql))
                {
                    await migrate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await using (var record = AppDatabase.Command(connection, null, "INSERT INTO service_migrations (version, name, applied_at) VALUES (@v, @n, @t)",
                    ("v", version), ("n", name), ("t", timeProvider.GetUtcNow().UtcDateTime)))
                {
                    await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                ServiceLog.MigrationApplied(logger, version, name);
                applied.Add(version);
            }
        }
        finally
        {
            await using var release = AppDatabase.Command(connection, null, $"DO RELEASE_LOCK({Lock})");
            await release.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return applied;
    }

    private static List<(int Version, string Name, string Sql)> Load(string provider)
    {
        var assembly = typeof(ServiceMigrator).Assembly;
        var result = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = MigrationName().Match(resource);
            if (!match.Success || match.Groups["provider"].Value != provider)
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            result.Add((int.Parse(match.Groups["version"].Value, CultureInfo.InvariantCulture), match.Groups["name"].Value, reader.ReadToEnd()));
        }

        result.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }

    [GeneratedRegex(@"\.Migrations\.(?<provider>Sqlite|PostgreSql|MySql)\.(?<version>\d{3})_(?<name>\w+)\.up\.sql$")]
    private static partial Regex MigrationName();
}
