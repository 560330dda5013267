using System.Diagnostics;

namespace Postbox.Bench.Tests;

/// <summary>
/// Expected runtime failures of the harness, run as a process as a user would: a server that cannot be used, a failing
/// scenario, an unwritable results folder. Each is one line naming what failed and a non-zero exit code, never a stack
/// trace, and a failing scenario costs neither the other scenarios nor the table.
/// </summary>
public sealed class BenchFailureTests
{
    private static readonly string Postgres = Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") is { Length: > 0 } pg
        ? pg : "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    private static readonly string RabbitMQ = Environment.GetEnvironmentVariable("POSTBOX_TEST_RABBITMQ") is { Length: > 0 } rabbit
        ? rabbit : "amqp://guest:guest@127.0.0.1:5672/";

    // Port 1 on the loopback: nothing listens there, so connecting is refused at once.
    private const string ClosedMySql = "Server=127.0.0.1;Port=1;User ID=postbox;Password=postbox";

    public static TheoryData<string, string, string> UnusableServers() => new()
    {
        { "--postgres", "Host=127.0.0.1;Port=1;Username=postgres;Password=postgres", "Cannot use PostgreSQL (--postgres): " },
        { "--postgres", new Npgsql.NpgsqlConnectionStringBuilder(Postgres) { Password = "not-the-password" }.ConnectionString, "Cannot use PostgreSQL (--postgres): " },
        { "--postgres", "garbage", "Cannot use PostgreSQL (--postgres): " },
        { "--rabbitmq", "amqp://guest:guest@127.0.0.1:1/", "Cannot use RabbitMQ (--rabbitmq): " },
        { "--rabbitmq", new UriBuilder(RabbitMQ) { Password = "not-the-password" }.Uri.ToString(), "Cannot use RabbitMQ (--rabbitmq): " },
        { "--rabbitmq", "notauri", "Cannot use RabbitMQ (--rabbitmq): " },
        // The broker accepts the login, then closes the connection (530): it must not count as a harness bug.
        { "--rabbitmq", new UriBuilder(RabbitMQ) { Path = "/no-such-vhost-" + Guid.NewGuid().ToString("N")[..8] }.Uri.ToString(), "Cannot use RabbitMQ (--rabbitmq): " },
    };

    [Theory]
    [MemberData(nameof(UnusableServers))]
    public async Task AnUnusableServer_IsOneLine_NamingIt_AndExit1(string option, string value, string expected)
    {
        var (exit, _, stderr) = await RunAsync("--no-write", "--scenarios", "claim", option, value);

        Assert.Equal(1, exit);
        var line = Assert.Single(Lines(stderr));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
        Assert.True(line.Length > expected.Length, "the driver's message is missing");
    }

    [Fact]
    public async Task AFailingScenario_IsReported_TheOthersStillRun_AndTheTableIsWritten()
    {
        var output = Path.Combine(Path.GetTempPath(), "postbox-bench-fail-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var (exit, stdout, stderr) = await RunAsync("--smoke", "--scenarios", "mysql,steady", "--mysql", ClosedMySql, "--out", output);

            Assert.Equal(1, exit);
            Assert.Single(Lines(stderr), l => l.StartsWith("Scenario mysql failed: ", StringComparison.Ordinal));
            Assert.DoesNotContain(Lines(stderr), l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
            Assert.Contains("| 9 | steady", stdout, StringComparison.Ordinal); // the scenario after the failed one ran
            var file = Assert.Single(Directory.GetFiles(output, "*.md"));
            var markdown = await File.ReadAllTextAsync(file);
            Assert.Contains("| 9 | steady", markdown, StringComparison.Ordinal);
            Assert.Contains("**Scenario mysql failed** and has no rows: ", markdown, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [Fact]
    public async Task AnUnwritableOut_FailsInOneLine_BeforeAnyScenarioRuns()
    {
        var file = Path.GetTempFileName(); // a file where --out wants a folder
        try
        {
            var (exit, stdout, stderr) = await RunAsync("--smoke", "--scenarios", "steady", "--out", Path.Combine(file, "results"));

            Assert.Equal(1, exit);
            Assert.Equal("", stdout.Trim()); // found before the run, not after it
            var line = Assert.Single(Lines(stderr));
            Assert.StartsWith("Cannot write the results file (--out): ", line, StringComparison.Ordinal);
            Assert.DoesNotContain("9. Steady", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>stderr without the progress lines (<c>[mm:ss] …</c>).</summary>
    private static List<string> Lines(string stderr) =>
        [.. stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith('['))];

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(BenchOptions).Assembly.Location);
        foreach (var a in (string[])["--postgres", Postgres, "--rabbitmq", RabbitMQ, .. args])
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
