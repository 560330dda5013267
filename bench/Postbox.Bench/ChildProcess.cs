using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace Postbox.Bench;

/// <summary>
/// The harness started again as a child process in a sub-mode (<c>relay</c>, <c>rawpublish</c>), so the relay runs
/// in a process of its own whose CPU and memory can be read from /proc. Talks over stdin/stdout lines.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    // The children alive now, so that Ctrl+C can kill them before dropping the schemas they hold locks in.
    private static readonly ConcurrentDictionary<ChildProcess, byte> Live = new();

    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly string _name;

    private ChildProcess(Process process, string name)
    {
        (_process, _name) = (process, name);
    }

    public int Pid => _process.Id;

    public static ChildProcess Start(string name, IEnumerable<string> arguments) => Start(name, typeof(ChildProcess).Assembly.Location, arguments);

    /// <summary>Starts another program (<paramref name="dll"/>, e.g. the Wolverine peer) in the same way.</summary>
    public static ChildProcess Start(string name, string dll, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(Muxer())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the child process.");
        var child = new ChildProcess(process, name);
        Live[child] = 0;
        _ = Task.Run(child.PumpAsync);
        return child;
    }

    /// <summary>Waits for a stdout line starting with <paramref name="prefix"/> and returns it.</summary>
    public async Task<string> WaitForAsync(string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cts.Token);
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The {_name} child did not print '{prefix}' within {timeout}.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The {_name} child exited before printing '{prefix}' (exit code {(_process.HasExited ? _process.ExitCode : -1)}).");
        }
    }

    public async Task SendAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Kills every live child and its descendants at once (Ctrl+C: no time for a graceful stop).</summary>
    public static void KillAll()
    {
        foreach (var child in Live.Keys)
        {
            try
            {
                child._process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Live.TryRemove(this, out _);
        if (!_process.HasExited)
        {
            try
            {
                await SendAsync("STOP");
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Already gone.
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Progress.Say($"  !! the {_name} child did not stop within 30 s: killing pid {_process.Id}");
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private async Task PumpAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith('@'))
            {
                await _lines.Writer.WriteAsync(line[1..]);
            }
            else
            {
                Console.Error.WriteLine($"    [{_name}] {line}");
            }
        }

        _lines.Writer.TryComplete();
    }

    private static string Muxer()
    {
        var path = Environment.ProcessPath;
        if (path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            return path;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
