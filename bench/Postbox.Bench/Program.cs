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
    /// <summary>Runs the selected scenarios, prints the table and writes it to <c>bench/results/&lt;date&gt;.md</c>.</summary>
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

            var (markdown, path) = await RunAsync(options);
            Console.WriteLine(markdown);
            if (path is not null)
            {
                Console.Error.WriteLine($"Results written to {path}");
            }

            return 0;
        }

        public static async Task<(string Markdown, string? Path)> RunAsync(BenchOptions options)
        {
            await using var context = await BenchContext.CreateAsync(options);
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
            foreach (var (name, run) in scenarios)
            {
                if (options.Scenarios.Contains(name))
                {
                    await run();
                }
            }

            var markdown = context.Report.ToMarkdown(options, environment);
            string? path = null;
            if (options.Write)
            {
                var directory = options.OutputDirectory ?? Path.Combine(FindRepositoryRoot(), "bench", "results");
                Directory.CreateDirectory(directory);
                path = Path.Combine(directory, $"{DateTime.UtcNow:yyyy-MM-dd}.md");
                await File.WriteAllTextAsync(path, markdown);
            }

            return (markdown, path);
        }

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
}
