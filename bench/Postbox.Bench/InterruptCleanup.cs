using System.Runtime.InteropServices;
using MySqlConnector;
using Npgsql;
using RabbitMQ.Client;

namespace Postbox.Bench;

/// <summary>
/// A first Ctrl+C (or SIGTERM, as sent by <c>timeout</c>, a CI cancel or <c>docker stop</c>) drops what the run created
/// (schemas, databases, queues and exchanges, all named with the run id) and exits with 130 (143); a second one exits
/// at once. Without it an interrupted run left them behind on shared servers.
/// </summary>
internal sealed class InterruptCleanup : IDisposable
{
    private readonly BenchContext _context;
    private readonly PosixSignalRegistration _terminate;
    private int _interrupted;

    private InterruptCleanup(BenchContext context)
    {
        _context = context;
        Console.CancelKeyPress += OnCancelKeyPress;
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            if (Interrupt("SIGTERM", 143))
            {
                signal.Cancel = true;
            }
        });
    }

    /// <summary>True once Ctrl+C was pressed: no further scenario starts.</summary>
    public bool Requested => Volatile.Read(ref _interrupted) != 0;

    /// <summary>After Ctrl+C: never completes, so that nothing else starts while the cleanup drops and exits.</summary>
    public static Task ExitingAsync() => Task.Delay(Timeout.Infinite);

    public static InterruptCleanup Install(BenchContext context) => new(context);

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _terminate.Dispose();
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (Interrupt("Ctrl+C", 130))
        {
            e.Cancel = true;
        }
    }

    /// <summary>Starts the cleanup on the first signal and returns true (the caller then cancels the default exit); false on a later one.</summary>
    private bool Interrupt(string signal, int exitCode)
    {
        if (Interlocked.Exchange(ref _interrupted, 1) != 0)
        {
            return false; // the second signal: the default, exit now
        }

        // The cleanup runs off the signal thread, so that a second signal is still delivered while it works.
        Console.Error.WriteLine($"Interrupted ({signal}): dropping what run {_context.RunId} created (again to exit at once).");
        _ = Task.Run(async () =>
        {
            await DropAsync();
            Environment.Exit(exitCode);
        });
        return true;
    }

    /// <summary>What a first Ctrl+C does before exiting (internal for the tests, which cannot send a signal reliably: a shell may start them with SIGINT ignored).</summary>
    internal async Task DropAsync()
    {
        // Children first: a relay holding locks in a schema would make DROP SCHEMA wait.
        ChildProcess.KillAll();
        var runId = _context.RunId;
        var options = _context.Options;
        await StepAsync("PostgreSQL schemas and databases", () => DropPostgresAsync(options.Postgres, runId));
        await StepAsync("RabbitMQ queues and exchanges", () => DropRabbitAsync(options.RabbitMQ, _context.Broker.Declared()));
        if (options.Scenarios.Contains("mysql"))
        {
            await StepAsync("MySQL databases", () => DropMySqlAsync(options.MySql, runId));
        }
    }

    private static async Task StepAsync(string what, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception ex) when (ServerUnavailableException.IsExpected(ex) || ex is IOException or InvalidOperationException)
        {
            Console.Error.WriteLine($"Could not drop the {what}: {ServerUnavailableException.Describe(ex)}");
        }
    }

    private static async Task DropPostgresAsync(string connectionString, string runId)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        var pattern = runId.Replace("_", "\\_", StringComparison.Ordinal) + "%";
        await ExecAsync(connection, "SET lock_timeout = '5s'");
        // A CREATE DATABASE of this run still in progress is invisible to the listing below and would leave its
        // database behind once it commits: end it first (it then rolls back), and list again a moment later for one
        // that began in between.
        await ExecAsync(connection, """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE pid <> pg_backend_pid() AND state = 'active' AND query ILIKE 'CREATE DATABASE%' AND strpos(query, @p) > 0
            """, runId);
        for (var pass = 1; pass <= 3; pass++)
        {
            foreach (var database in await NamesAsync(connection, "SELECT datname FROM pg_database WHERE datname LIKE @p", pattern))
            {
                await ExecAsync(connection, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        // The harness's own producers may still hold locks in the schemas: end their sessions, then drop; again if
        // one came back in between.
        for (var attempt = 1; ; attempt++)
        {
            await ExecAsync(connection, """
                SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname LIKE @p AND l.pid <> pg_backend_pid()
                """, pattern);
            try
            {
                foreach (var schema in await NamesAsync(connection, "SELECT nspname FROM pg_namespace WHERE nspname LIKE @p", pattern))
                {
                    await ExecAsync(connection, $"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                }

                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable && attempt < 3)
            {
            }
        }
    }

    private static async Task DropRabbitAsync(string uri, (string[] Queues, string[] Exchanges) declared)
    {
        await using var connection = await new ConnectionFactory { Uri = new Uri(uri), ClientProvidedName = "postbox-bench-cleanup" }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var queue in declared.Queues)
        {
            await channel.QueueDeleteAsync(queue);
        }

        foreach (var exchange in declared.Exchanges)
        {
            await channel.ExchangeDeleteAsync(exchange);
        }
    }

    private static async Task DropMySqlAsync(string connectionString, string runId)
    {
        await using var connection = new MySqlConnection(new MySqlConnectionStringBuilder(connectionString) { Pooling = false, ConnectionTimeout = 5 }.ConnectionString);
        await connection.OpenAsync();
        var databases = new List<string>();
        await using (var list = new MySqlCommand($"SHOW DATABASES LIKE '{runId.Replace("_", "\\\\_", StringComparison.Ordinal)}%'", connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                databases.Add(reader.GetString(0));
            }
        }

        foreach (var database in databases)
        {
            await using var drop = new MySqlCommand($"DROP DATABASE IF EXISTS `{database}`", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    private static async Task<List<string>> NamesAsync(NpgsqlConnection connection, string sql, string pattern)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("p", pattern);
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static async Task ExecAsync(NpgsqlConnection connection, string sql, string? pattern = null)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (pattern is not null)
        {
            command.Parameters.AddWithValue("p", pattern);
        }

        await command.ExecuteNonQueryAsync();
    }
}
