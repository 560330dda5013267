using System.Collections.Concurrent;
using System.Diagnostics;

namespace Postbox.Consumers.Tests.Infrastructure;

/// <summary>The Postbox.TestWorker console app as a separate process (dotnet Postbox.TestWorker.dll), with its output and signals.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private WorkerProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue("ERR " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output => string.Join('\n', _lines);

    public static Task<WorkerProcess> StartAsync(TestDatabase database, string topic, int delayMs, int shutdownMs = 10_000) =>
        StartAsync(database, topic, delayMs.ToString(System.Globalization.CultureInfo.InvariantCulture), shutdownMs);

    /// <summary>Starts a worker; <paramref name="delay"/> is "N" ms or "MIN-MAX" (random per message).</summary>
    public static async Task<WorkerProcess> StartAsync(TestDatabase database, string topic, string delay, int shutdownMs = 10_000,
        int partitions = 0, string concurrency = "4", int timeoutMs = 120_000, int? rebalanceMs = null)
    {
        // Built next to this assembly through the ReferenceOutputAssembly=false project reference.
        var pivot = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "Postbox.TestWorker", pivot, "Postbox.TestWorker.dll"));
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("The test worker was not built.", dll);
        }

        var start = new ProcessStartInfo("dotnet", $"\"{dll}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["POSTBOX_TEST_POSTGRES"] = TestEnvironment.PostgresConnectionString;
        start.Environment["POSTBOX_TEST_RABBITMQ"] = TestEnvironment.RabbitMQUri;
        start.Environment["WORKER_SCHEMA"] = database.Schema;
        start.Environment["WORKER_TOPIC"] = topic;
        start.Environment["WORKER_DELAY_MS"] = delay;
        start.Environment["WORKER_PARTITIONS"] = partitions.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["WORKER_CONCURRENCY"] = concurrency;
        start.Environment["WORKER_TIMEOUT_MS"] = timeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["WORKER_SHUTDOWN_MS"] = shutdownMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (rebalanceMs is { } rebalance)
        {
            start.Environment["WORKER_REBALANCE_MS"] = rebalance.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var worker = new WorkerProcess(Process.Start(start)!);
        try
        {
            await worker.WaitForLineAsync("Consumer test-worker subscribed", TimeSpan.FromSeconds(30));
        }
        catch
        {
            // Not returned to the test, so nobody else would end it.
            await worker.DisposeAsync();
            throw;
        }

        return worker;
    }

    public Task WaitForLineAsync(string fragment, TimeSpan timeout) =>
        TestEnvironment.WaitUntilAsync(() => Task.FromResult(_lines.Any(l => l.Contains(fragment, StringComparison.Ordinal)) || _process.HasExited && _lines.Any(l => l.Contains(fragment, StringComparison.Ordinal))),
            timeout, $"worker output '{fragment}'. Output so far:\n{Output}");

    public int CountLines(string fragment) => _lines.Count(l => l.Contains(fragment, StringComparison.Ordinal));

    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {_process.Id}")!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
