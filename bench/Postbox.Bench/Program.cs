using System.Globalization;
using Postbox.Bench;
using Postbox.Bench.Scenarios;

return args.FirstOrDefault() switch
{
    "relay" => await RelayMode.RunAsync(new ChildArgs(args[1..])),
    "rawpublish" => await RawPublishMode.RunAsync(new ChildArgs(args[1..])),
    "lockrelay" => await LockClaimRelayMode.RunAsync(new ChildArgs(args[1..])),
    "run" => await BenchRunner.MainAsync(args[1..]),
    "claim-sql" => ClaimSqlMode.Print(args.Length > 1 ? args[1] : "postbox"),
    _ => await BenchRunner.MainAsync(args),
};

namespace Postbox.Bench
{
    /// <summary>Runs the selected scenarios, prints the table and writes it to <c>bench/results/&lt;date-time&gt;.md</c>.</summary>
    internal static class BenchRunner
    {
        public static async Task<int> MainAsync(string[] args)
        {
            BenchOptions options;
            try
            {
                options = BenchOptions.Parse(args);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(ex.Message);
                return 2;
            }

            if (options.Help)
            {
                Console.WriteLine(BenchOptions.Usage());
                return 0;
            }

            try
            {
                EnsureWritable(options);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"Cannot write the results file (--out): {ex.Message}");
                return 1;
            }

            BenchRun run;
            try
            {
                run = await RunAsync(options);
            }
            catch (ServerUnavailableException ex)
            {
                // A server the run needs is down or refuses us: expected, so one line, not a stack trace.
                Console.Error.WriteLine(ex.Message);
                return 1;
            }

            // The table first: a results file that cannot be written must not cost a run's figures.
            Console.WriteLine(run.Markdown);
            try
            {
                if (await WriteAsync(options, run.Markdown) is { } path)
                {
                    Console.Error.WriteLine($"Results written to {path}");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"Could not write the results file (--out): {ex.Message}");
                return 1;
            }

            if (run.Failed.Count > 0)
            {
                Console.Error.WriteLine($"{run.Failed.Count} scenario(s) failed: {string.Join(", ", run.Failed)} (see the notes above).");
                return 1;
            }

            return 0;
        }

        public static async Task<BenchRun> RunAsync(BenchOptions options)
        {
            await using var context = await BenchContext.CreateAsync(options);
            using var interrupt = InterruptCleanup.Install(context);
            var environment = await DescribeEnvironmentAsync(context);
            Progress.Say($"Run {context.RunId}: {options.Describe()}");
            foreach (var line in environment)
            {
                Progress.Say("  " + line);
            }

            var scenarios = new (string Name, Func<Task> Run)[]
            {
                ("producer", () => new ProducerScenario(context).RunAsync()),
                ("drain", () => new DrainScenario(context).RunAsync()),
                ("latency", () => new LatencyScenario(context).RunAsync()),
                ("idle", () => new IdleScenario(context).RunAsync()),
                ("backlog", () => new BacklogScenario(context).RunAsync()),
                ("ordering", () => new OrderingScenario(context).RunAsync()),
                ("claim", () => new ClaimScenario(context).RunAsync()),
                ("mysql", () => new MySqlScenario(context).RunAsync()),
                ("steady", () => new SteadyScenario(context).RunAsync()),
                ("wolverine", () => new WolverineScenario(context).RunAsync()),
            };
            var failed = new List<string>();
            foreach (var (name, run) in scenarios)
            {
                if (interrupt.Requested)
                {
                    await InterruptCleanup.ExitingAsync();
                }

                if (!options.Scenarios.Contains(name))
                {
                    continue;
                }

                try
                {
                    await run();
                }
                catch (Exception) when (interrupt.Requested)
                {
                    // Ctrl+C killed the scenario's children: not a failure to report.
                    await InterruptCleanup.ExitingAsync();
                }
                catch (Exception ex)
                {
                    // A full run is half an hour: one scenario's failure (say, no MariaDB for mysql) must not cost
                    // the others' figures. It is reported in the notes and makes the exit code non-zero.
                    failed.Add(name);
                    var reason = ServerUnavailableException.Describe(ex);
                    Console.Error.WriteLine($"Scenario {name} failed: {reason}");
                    if (!ServerUnavailableException.IsExpected(ex))
                    {
                        Console.Error.WriteLine(ex);
                    }

                    context.Report.Note(name, $"**Scenario {name} failed** and has no rows: {reason}");
                }
            }

            return new BenchRun(context.Report.ToMarkdown(options, environment), failed);
        }

        /// <summary>Writes the table to the results folder (or <c>--out</c>); returns the file, or null when not writing.</summary>
        public static async Task<string?> WriteAsync(BenchOptions options, string markdown)
        {
            if (!options.Write)
            {
                return null;
            }

            var directory = ResultsDirectory(options);
            Directory.CreateDirectory(directory);

            // The time too, and never over an existing file: a second run the same day (or minute) must not overwrite the
            // first.
            var stem = Path.Combine(directory, $"{DateTime.UtcNow:yyyy-MM-dd-HHmm}");
            for (var n = 1; ; n++)
            {
                var path = n == 1 ? stem + ".md" : $"{stem}-{n}.md";
                try
                {
                    await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
                    await using var writer = new StreamWriter(file);
                    await writer.WriteAsync(markdown);
                    return path;
                }
                catch (IOException) when (File.Exists(path) && n < 100)
                {
                }
            }
        }

        /// <summary>
        /// Checks, before any scenario runs, that the results folder can be created and written: a bad <c>--out</c>
        /// found only after a 50-minute run would fail it at its very end.
        /// </summary>
        public static void EnsureWritable(BenchOptions options)
        {
            if (!options.Write)
            {
                return;
            }

            var directory = ResultsDirectory(options);
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".write-check-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }

        private static string ResultsDirectory(BenchOptions options) =>
            options.OutputDirectory ?? Path.Combine(FindRepositoryRoot(), "bench", "results");

        private static async Task<List<string>> DescribeEnvironmentAsync(BenchContext context)
        {
            await using var version = context.DataSource.CreateCommand("SELECT current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', shared_buffers=' || current_setting('shared_buffers')");
            var pg = (string)(await version.ExecuteScalarAsync())!;
            var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
            return
            [
                $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; load average at start {load}",
                $"PostgreSQL {pg} and RabbitMQ {context.Broker.Version} run on 127.0.0.1 and share the cores with the harness (and with any other tests running meanwhile)",
            ];
        }

        private static string FindRepositoryRoot()
        {
            for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Postbox.slnx")))
                {
                    return dir.FullName;
                }
            }

            return Directory.GetCurrentDirectory();
        }

        internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A finished run: its table and the scenarios that failed (named in its notes).</summary>
    internal sealed record BenchRun(string Markdown, IReadOnlyList<string> Failed);
}
