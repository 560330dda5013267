using System.Diagnostics;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of this test project's own (<c>scripts/private-postgres.sh</c>, created once, started here and
/// stopped at the end), which tests may stop and restart: never the shared cluster on 5432.
/// </summary>
public sealed class PrivatePostgresCluster : IAsyncLifetime
{
    public string Name { get; } = "postbox_svc_tests";

    public int Port { get; } = 5449;

    // Generous time-outs: the test machine is shared and sometimes very slow.
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Password=postgres;Database=postgres;Timeout=60;Command Timeout=120";

    /// <summary>The path of <c>scripts/private-postgres.sh</c>, which creates (once), repairs and starts a private cluster.</summary>
    public static string Script => Path.Combine(RepositoryRoot(), "scripts", "private-postgres.sh");

    public async Task InitializeAsync() => await RunAsync("bash", Script, Name, Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public Task DisposeAsync() => StopAsync();

    /// <summary>Fast shutdown, as <c>pg_ctlcluster stop -m fast</c>: open connections are terminated.</summary>
    public Task StopAsync() => RunAsync("pg_ctlcluster", "15", Name, "stop", "-m", "fast");

    public Task StartAsync() => RunAsync("pg_ctlcluster", "15", Name, "start");

    public static async Task RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Postbox.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Postbox.slnx not found above " + AppContext.BaseDirectory);
    }
}
