using Microsoft.Data.Sqlite;
using Postbox.Sqlite;

namespace Postbox.IntegrationTests.Store;

/// <summary>The SQLite migrator beside tables it did not create, and on databases of earlier builds.</summary>
public sealed class SqliteMigratorSafetyTests : IDisposable
{
    // Every migration embedded in Postbox.Sqlite, in order (NNN_name.up.sql).
    private static readonly int[] AllVersions = [.. typeof(SqliteMigrator).Assembly.GetManifestResourceNames()
        .Select(n => System.Text.RegularExpressions.Regex.Match(n, @"Migrations\.(\d{3})_[a-z0-9_]+\.up\.sql$"))
        .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).Order()];

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"postbox-mig-{Guid.NewGuid():N}.db");

    private string ConnectionString => $"Data Source={_path}";

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqliteCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqliteCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Migrate_WithEmptyPrefixBesideGolangMigrateBookkeeping_CreatesPostboxTables()
    {
        await ExecuteAsync("CREATE TABLE schema_migrations (version uint64 NOT NULL PRIMARY KEY, dirty bool NOT NULL); INSERT INTO schema_migrations VALUES (1, 0), (2, 0);");

        var applied = await new SqliteMigrator(new SqliteOptions { ConnectionString = ConnectionString, TablePrefix = "" }).MigrateAsync();

        Assert.Equal(AllVersions, applied);
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM sqlite_master WHERE name = 'outbox'"));
        Assert.Equal(2L, await CountAsync("SELECT count(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task Migrate_ForeignTableUnderPostboxBookkeepingName_FailsSayingWhatItFound()
    {
        await ExecuteAsync("CREATE TABLE postbox_migrations (id INTEGER PRIMARY KEY, applied TEXT)");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => new SqliteMigrator(new SqliteOptions { ConnectionString = ConnectionString }).MigrateAsync());

        Assert.Contains("postbox_migrations is not Postbox's migration bookkeeping: found columns (id INTEGER, applied TEXT)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_DatabaseOfAnEarlierBuild_MovesItsBookkeeping()
    {
        var options = new SqliteOptions { ConnectionString = ConnectionString };
        await new SqliteMigrator(options).MigrateAsync();
        await ExecuteAsync("ALTER TABLE postbox_migrations RENAME TO postbox_schema_migrations");

        Assert.Empty(await new SqliteMigrator(options).MigrateAsync());
        Assert.Equal((long)AllVersions.Length, await CountAsync("SELECT count(*) FROM postbox_migrations"));
        Assert.Equal(0L, await CountAsync("SELECT count(*) FROM sqlite_master WHERE name = 'postbox_schema_migrations'"));
    }

    [Fact]
    public async Task Migrate_VersionNewerThanThisBuild_Fails()
    {
        var options = new SqliteOptions { ConnectionString = ConnectionString };
        await new SqliteMigrator(options).MigrateAsync();
        await ExecuteAsync("INSERT INTO postbox_migrations VALUES (999, 'from_the_future', 0)");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => new SqliteMigrator(options).MigrateAsync());

        Assert.Contains("at Postbox migration 999 (from_the_future), newer than this build knows", error.Message, StringComparison.Ordinal);
    }
}
