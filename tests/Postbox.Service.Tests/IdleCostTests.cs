using System.Globalization;
using Npgsql;
using Xunit.Abstractions;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// What an idle system costs the database (issue 11: about one transaction a second for the whole system at most):
/// api, relay and a worker at the service's own polling intervals, on a database of their own, so PostgreSQL's
/// per-database commit counter counts nothing but them.
/// </summary>
public sealed class IdleCostTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Distributed_Idle_ApiRelayAndWorker_WellUnderOneTransactionPerSecond()
    {
        var database = "idle_" + Guid.NewGuid().ToString("N")[..12];
        await using var admin = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);
        await using (var create = admin.CreateCommand($"CREATE DATABASE {database}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var connection = new NpgsqlConnectionStringBuilder(TestEnvironment.PostgresConnectionString) { Database = database }.ConnectionString;
            await using (var service = new DistributedService(postgres: connection, productionPolling: true))
            {
                await service.StartAsync();
                // Autovacuum's visits to the new tables are transactions of this database too, not the service's.
                await using (var tables = NpgsqlDataSource.Create(connection))
                await using (var off = tables.CreateCommand(
                    $"DO $$ DECLARE t text; BEGIN FOR t IN SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables WHERE schemaname = '{service.Schema}' " +
                    "LOOP EXECUTE 'ALTER TABLE ' || t || ' SET (autovacuum_enabled = false)'; END LOOP; END $$"))
                {
                    await off.ExecuteNonQueryAsync();
                }

                // Past start-up: the retry scheduler's empty polls have backed off to their idle interval (1+2+4+8 s).
                await Task.Delay(TimeSpan.FromSeconds(20));
                var window = TimeSpan.FromSeconds(40);
                var before = await CommitsAsync(admin, database);
                await Task.Delay(window);
                var after = await CommitsAsync(admin, database);

                // Before: the relay's claim every second alone made more than one a second. Now the relay LISTENs and
                // polls every 5 s, the worker's idle retry poll every 10 s: about 0.4 a second, whatever the machine's load.
                var perSecond = (after - before) / window.TotalSeconds;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{perSecond:F2} transactions/s while idle ({after - before} in {window.TotalSeconds} s)"));
                Assert.True(perSecond <= 0.6, string.Create(CultureInfo.InvariantCulture, $"{perSecond:F2} transactions/s while idle ({after - before} in {window.TotalSeconds} s)"));
            }
        }
        finally
        {
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Committed transactions of <paramref name="database"/> so far (this query runs in another database).</summary>
    private static async Task<long> CommitsAsync(NpgsqlDataSource admin, string database)
    {
        await using var command = admin.CreateCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
