using System.Collections.Concurrent;
using System.Diagnostics;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>One role of the service as a separate process: <c>dotnet Postbox.Service.dll &lt;role&gt; ...</c>.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ServiceProcess(Process process, string role)
    {
        (_process, Role) = (process, role);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue("ERR " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Role { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output => string.Join('\n', _lines);

    /// <summary>The app's own build output, next to this test assembly's (same configuration folder), or
    /// <c>POSTBOX_TEST_SERVICE_DLL</c> (another build, to check that a test fails without a fix).</summary>
    public static string Dll
    {
        get
        {
            if (Environment.GetEnvironmentVariable("POSTBOX_TEST_SERVICE_DLL") is { Length: > 0 } other)
            {
                return other;
            }

            var pivot = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
            var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "Postbox.Service", pivot, "Postbox.Service.dll"));
            return File.Exists(dll) ? dll : throw new FileNotFoundException("The service was not built.", dll);
        }
    }

    public static ServiceProcess Start(string role, IEnumerable<string> arguments) => Start(role, arguments, environment: null);

    /// <summary>Starts a role with extra environment variables (e.g. a password, which never goes on a command line).</summary>
    public static ServiceProcess Start(string role, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment) =>
        Start(role, arguments, environment, defaultInterrupt: false);

    /// <summary>
    /// Starts a role whose SIGINT and SIGQUIT are reset to their default handling, as in a terminal. A suite started as
    /// a background job without job control (<c>bash scripts/test.sh &amp;</c>) runs with both ignored, children inherit
    /// that across exec, and a Ctrl+C sent to the role would then never arrive (seen as a 90 s hang with no output).
    /// </summary>
    public static ServiceProcess StartInterruptible(string role, IEnumerable<string> arguments) =>
        Start(role, arguments, environment: null, defaultInterrupt: true);

    private static ServiceProcess Start(string role, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, bool defaultInterrupt)
    {
        // env(1) execs dotnet in place, so the process id is the service's.
        var start = new ProcessStartInfo(defaultInterrupt ? "env" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (defaultInterrupt)
        {
            start.ArgumentList.Add("--default-signal=INT,QUIT");
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(Dll);
        start.ArgumentList.Add(role);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return new ServiceProcess(Process.Start(start)!, role);
    }

    public Task WaitForLineAsync(string fragment, TimeSpan timeout) =>
        TestEnvironment.WaitUntilAsync(() =>
        {
            if (_lines.Any(l => l.Contains(fragment, StringComparison.Ordinal)))
            {
                return Task.FromResult(true);
            }

            return _process.HasExited
                ? throw new InvalidOperationException($"{Role} exited with {_process.ExitCode} before printing '{fragment}':\n{Output}")
                : Task.FromResult(false);
        }, timeout, $"{Role} output '{fragment}'. Output so far:\n{Output}");

    public int CountLines(string fragment) => _lines.Count(l => l.Contains(fragment, StringComparison.Ordinal));

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // Say what the process had printed: a bare TaskCanceledException told nothing about a rare hang (the admin
            // command's Ctrl+C test, session 20 onwards, local full runs only).
            throw new TimeoutException($"{Role} (pid {_process.Id}) did not exit within {timeout}. Output so far:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>SIGKILL (kill -9): the process dies at once, mid-whatever.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as an operator would; the process shuts down gracefully.</summary>
    public async Task TerminateAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using var kill = Process.Start("kill", $"-TERM {_process.Id}")!;
        await kill.WaitForExitAsync();
        await WaitForExitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await TerminateAsync();
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
