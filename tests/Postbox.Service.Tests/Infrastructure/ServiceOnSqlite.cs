using System.Globalization;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>
/// The <c>all</c> role as a separate process on its own SQLite file, so a test can read exactly what it logs (levels,
/// stack traces, credentials) on the console, as an operator would.
/// </summary>
public sealed class ServiceOnSqlite : IAsyncDisposable
{
    private ServiceOnSqlite(ServiceProcess process, string folder, int port)
    {
        (Process, Folder, Port) = (process, folder, port);
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    public ServiceProcess Process { get; }

    public string Folder { get; }

    public int Port { get; }

    public HttpClient Client { get; }

    public string DatabasePath => Path.Combine(Folder, "service.db");

    /// <summary>Starts and waits for the banner; <paramref name="arguments"/> are added to the defaults.</summary>
    public static async Task<ServiceOnSqlite> StartAsync(IEnumerable<string>? arguments = null, IReadOnlyDictionary<string, string>? environment = null,
        string? connectionOptions = null)
    {
        var service = Launch(arguments, environment, connectionOptions);
        await service.Process.WaitForLineAsync("Postbox service (all", TimeSpan.FromSeconds(60));
        return service;
    }

    /// <summary>Starts without waiting (for a start that is meant to fail). <paramref name="connectionOptions"/> are appended to the SQLite connection string.</summary>
    public static ServiceOnSqlite Launch(IEnumerable<string>? arguments = null, IReadOnlyDictionary<string, string>? environment = null,
        string? connectionOptions = null)
    {
        var folder = TestEnvironment.TempFolder("sqlite-process");
        var port = TestEnvironment.FreePort();
        var process = ServiceProcess.Start("all",
        [
            "--sqlite", $"Data Source={Path.Combine(folder, "service.db")}{(connectionOptions is null ? "" : ";" + connectionOptions)}", "--mail-dir", Path.Combine(folder, "mail"),
            "--urls", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"),
            "--Postbox:Consumers:HandleSignals=false", "--Postbox:Consumers:RetryPollInterval=00:00:00.100", "--Postbox:Relay:PollInterval=00:00:00.200",
            .. arguments ?? [],
        ], environment);
        return new ServiceOnSqlite(process, folder, port);
    }

    /// <summary>The console lines at error or critical level (the console logger's <c>fail:</c> and <c>crit:</c> prefixes).</summary>
    public IReadOnlyList<string> ErrorLines() =>
        [.. Process.Output.Split('\n').Where(l => l.Contains("fail:", StringComparison.Ordinal) || l.Contains("crit:", StringComparison.Ordinal))];

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Process.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Folder, recursive: true);
    }
}
