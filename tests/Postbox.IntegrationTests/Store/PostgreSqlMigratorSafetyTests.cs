using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

/// <summary>
/// The migrator in schemas it did not create alone: another tool's bookkeeping, a foreign table under Postbox's names,
/// bookkeeping that disagrees with the tables, and the bookkeeping of earlier Postbox builds. Each test has its own
/// database, since several use the shared <c>public</c> schema.
/// </summary>
public sealed class PostgreSqlMigratorSafetyTests : IAsyncLifetime
{
    private readonly string _database = "pbmig_" + Guid.NewGuid().ToString("N")[..12];
    private NpgsqlDataSource _dataSource = null!;
    private string _connectionString = null!;

    public async Task InitializeAsync()
    {
        await using (var admin = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString))
        await using (var create = admin.CreateCommand($"CREATE DATABASE {_database}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        _connectionString = new NpgsqlConnectionStringBuilder(TestEnvironment.PostgresConnectionString) { Database = _database }.ConnectionString;
        _dataSource = NpgsqlDataSource.Create(_connectionString);
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);
        await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        await drop.ExecuteNonQueryAsync();
    }

    private PostgreSqlMigrator Migrator(string schema = "public") => new(_dataSource, new PostgreSqlOptions { Schema = schema });

    private async Task ExecuteAsync(string sql)
    {
        await using var command = _dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = _dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private const string GolangMigrate = """
        CREATE TABLE public.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
        INSERT INTO public.schema_migrations VALUES (1, false), (2, false);
        """;

    [Fact]
    public async Task Migrate_InPublicBesideGolangMigrateBookkeeping_CreatesPostboxTablesAndTheStoreWorks()
    {
        await ExecuteAsync(GolangMigrate);

        var applied = await Migrator().MigrateAsync();

        Assert.Equal(PostgreSqlMigrator.Migrations.Select(m => m.Version), applied);
        Assert.True(await ScalarAsync<bool>("SELECT to_regclass('public.outbox') IS NOT NULL"));
        Assert.True(await ScalarAsync<bool>("SELECT to_regclass('public.inbox') IS NOT NULL"));
        // The other tool's bookkeeping is untouched.
        Assert.Equal(2L, await ScalarAsync<long>("SELECT count(*) FROM public.schema_migrations WHERE NOT dirty"));

        var options = new PostgreSqlOptions { Schema = "public" };
        await using (var connection = await _dataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await new PostgreSqlOutboxWriter(options).WriteAsync(transaction, [PostgresSchema.Message("t")], DateTimeOffset.UtcNow, CancellationToken.None);
            await transaction.CommitAsync();
        }

        var now = DateTimeOffset.UtcNow;
        var claimed = await new PostgreSqlOutboxStore(_dataSource, options).ClaimAsync(new ClaimRequest("r", 10, now, now.AddMinutes(1), true), CancellationToken.None);
        Assert.Single(claimed.Messages);
        Assert.Empty(await Migrator().MigrateAsync());
    }

    [Fact]
    public async Task Migrate_ForeignTableUnderPostboxBookkeepingName_FailsSayingWhatItFound()
    {
        await ExecuteAsync("CREATE TABLE public.postbox_migrations (id serial PRIMARY KEY, applied boolean NOT NULL)");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Migrator().MigrateAsync());

        Assert.Contains("public.postbox_migrations is not Postbox's migration bookkeeping", error.Message, StringComparison.Ordinal);
        Assert.Contains("found a table (id integer, applied boolean)", error.Message, StringComparison.Ordinal);
        Assert.False(await ScalarAsync<bool>("SELECT to_regclass('public.outbox') IS NOT NULL"));
    }

    [Fact]
    public async Task Migrate_ViewUnderPostboxBookkeepingName_Fails()
    {
        await ExecuteAsync("CREATE VIEW public.postbox_migrations AS SELECT 1::integer AS version, 'outbox'::text AS name, now() AS applied_at");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Migrator().MigrateAsync());

        Assert.Contains("found a view", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_BookkeepingAtAVersionThisBuildDoesNotKnow_FailsNamingTheVersions()
    {
        await Migrator().MigrateAsync();
        await ExecuteAsync("INSERT INTO public.postbox_migrations (version, name) VALUES (999, 'from_the_future')");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Migrator().MigrateAsync());

        Assert.Contains("at migration 999 (from_the_future), newer than this build of Postbox knows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_OutboxTableMissingAlthoughRecordedAsApplied_FailsNamingTheTable()
    {
        await Migrator().MigrateAsync();
        await ExecuteAsync("DROP TABLE public.outbox");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Migrator().MigrateAsync());

        Assert.Contains("records migration 1 (outbox) as applied, but its table public.outbox does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_ForeignOutboxTableInTheSchema_FailsInsteadOfFailingOnCreate()
    {
        await ExecuteAsync("CREATE TABLE public.outbox (id bigint PRIMARY KEY, body text)");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Migrator().MigrateAsync());

        Assert.Contains("Migration 1 would create public.outbox, but a table of that name already exists (a table (id bigint, body text))", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_DatabaseOfAnEarlierBuild_MovesItsBookkeepingAndAppliesNothingTwice()
    {
        // What earlier builds left behind: the same rows, in {schema}.schema_migrations.
        await Migrator("app").MigrateAsync();
        await ExecuteAsync("ALTER TABLE app.postbox_migrations RENAME TO schema_migrations; ALTER INDEX app.postbox_migrations_pkey RENAME TO schema_migrations_pkey");

        var sources = Enumerable.Range(0, 5).Select(_ => NpgsqlDataSource.Create(_connectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(sources.Select(s => new PostgreSqlMigrator(s, new PostgreSqlOptions { Schema = "app" }).MigrateAsync()));
            Assert.All(results, Assert.Empty);
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }

        Assert.Equal((long)PostgreSqlMigrator.Migrations.Count, await ScalarAsync<long>("SELECT count(*) FROM app.postbox_migrations"));
        Assert.False(await ScalarAsync<bool>("SELECT to_regclass('app.schema_migrations') IS NOT NULL"));
    }

    [Fact]
    public async Task Migrate_FromFiveProcessesBesideGolangMigrate_AppliesEachVersionOnce()
    {
        await ExecuteAsync(GolangMigrate);
        var sources = Enumerable.Range(0, 5).Select(_ => NpgsqlDataSource.Create(_connectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(sources.Select(s => new PostgreSqlMigrator(s, new PostgreSqlOptions { Schema = "public" }).MigrateAsync()));
            Assert.Equal(PostgreSqlMigrator.Migrations.Select(m => m.Version), results.SelectMany(r => r).Order());
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }

        Assert.Equal((long)PostgreSqlMigrator.Migrations.Count, await ScalarAsync<long>("SELECT count(*) FROM public.postbox_migrations"));
        Assert.Equal(2L, await ScalarAsync<long>("SELECT count(*) FROM public.schema_migrations"));
    }
}
