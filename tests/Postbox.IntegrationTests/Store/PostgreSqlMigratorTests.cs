using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;

namespace Postbox.IntegrationTests.Store;

public sealed class PostgreSqlMigratorTests : IAsyncLifetime
{
    private readonly string _schema = "m_" + Guid.NewGuid().ToString("N")[..12];
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await using (var drop = _dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await _dataSource.DisposeAsync();
    }

    [Fact]
    public void Migrator_RejectsAnInvalidSchemaName()
    {
        var error = Assert.Throws<ArgumentException>(() => new PostgreSqlMigrator(_dataSource, new PostgreSqlOptions { Schema = "Robert'); DROP TABLE students;--" }));
        Assert.Contains("Invalid Postbox schema name", error.Message, StringComparison.Ordinal);
    }
}
