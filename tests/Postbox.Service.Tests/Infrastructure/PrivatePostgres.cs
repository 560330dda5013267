using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of the tests' own, which they may stop and start: never the shared one on 5432. Created on first
/// use by <c>scripts/private-postgres.sh</c> (127.0.0.1 only, password auth as in scripts/services.sh), so CI needs no
/// preparation.
/// Name and port from <c>POSTBOX_TEST_PRIVATE_PG</c> (<c>version/name:port</c>), default <c>15/postbox_svc_outage:5457</c>.
/// </summary>
public sealed class PrivatePostgres
{
    public PrivatePostgres()
    {
        var spec = Environment.GetEnvironmentVariable("POSTBOX_TEST_PRIVATE_PG") is { Length: > 0 } value ? value : "15/postbox_svc_outage:5457";
        var (cluster, port) = (spec[..spec.LastIndexOf(':')], spec[(spec.LastIndexOf(':') + 1)..]);
        (Version, Name, Port) = (cluster.Split('/')[0], cluster.Split('/')[1], int.Parse(port, CultureInfo.InvariantCulture));
    }

    public string Version { get; }

    public string Name { get; }

    public int Port { get; }

    public string ConnectionString => string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username=postgres;Password=postgres;Database=postgres");

    public async Task EnsureRunningAsync()
    {
        // The one way the tests create a private cluster (PrivatePostgresCluster too). It used to be created here with
        // pg_createcluster -o listen_addresses='127.0.0.1', which .NET passes with the quotes kept: pg_createcluster
        // quoted them again, and on a machine without the cluster PostgreSQL never started.
        await PrivatePostgresCluster.RunAsync("bash", PrivatePostgresCluster.Script, Name, Port.ToString(CultureInfo.InvariantCulture), Version);
        await StartAsync();
    }

    /// <summary><c>pg_ctlcluster stop -m fast</c>: every session is terminated (57P01), as in an operator's restart.</summary>
    public Task StopAsync() => PrivatePostgresCluster.RunAsync("pg_ctlcluster", Version, Name, "stop", "-m", "fast");

    public async Task StartAsync()
    {
        if (!await IsReadyAsync())
        {
            await PrivatePostgresCluster.RunAsync("pg_ctlcluster", Version, Name, "start");
        }

        await TestEnvironment.WaitUntilAsync(IsReadyAsync, TimeSpan.FromSeconds(60), $"private PostgreSQL {Name} on {Port}");
    }

    /// <summary>Terminates every other client session (the cluster is the test's own), as <c>pg_terminate_backend</c> by an operator.</summary>
    public async Task<int> TerminateClientsAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'", connection);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private async Task<bool> IsReadyAsync()
    {
        using var process = Process.Start(new ProcessStartInfo("pg_isready", $"-h 127.0.0.1 -p {Port} -q") { UseShellExecute = false })!;
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }
}
