namespace Postbox.Bench.Tests;

/// <summary>
/// Keeps the benchmark harness from rotting: every scenario runs with tiny sizes against the real servers (a few
/// seconds in all) and must produce a table row with both the Postbox figure and its raw limit, and the peer
/// (Wolverine) figure beside Postbox's for the producer, drain, latency and idle rows. Timings are not checked: they
/// mean nothing at these sizes.
/// </summary>
[Collection(BenchRuns.Name)]
public sealed class BenchSmokeTests
{
    [Fact]
    public async Task SmokeRun_EveryScenario_ProducesATableWithBothFigures()
    {
        var output = Path.Combine(Path.GetTempPath(), "postbox-bench-smoke-" + Guid.NewGuid().ToString("N")[..8]);
        var args = new List<string> { "--smoke", "--out", output, "--peer", "wolverine" };
        if (Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") is { Length: > 0 } pg)
        {
            args.AddRange(["--postgres", pg]);
        }

        if (Environment.GetEnvironmentVariable("POSTBOX_TEST_RABBITMQ") is { Length: > 0 } rabbit)
        {
            args.AddRange(["--rabbitmq", rabbit]);
        }

        try
        {
            var options = BenchOptions.Parse(args);
            var run = await BenchRunner.RunAsync(options);
            var markdown = run.Markdown;
            var path = await BenchRunner.WriteAsync(options, markdown);

            Assert.Empty(run.Failed);
            Assert.NotNull(path);
            Assert.Matches(@"\d{4}-\d{2}-\d{2}-\d{4}\.md$", path);
            Assert.Equal(markdown, await File.ReadAllTextAsync(path));
            var rows = markdown.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| # ", StringComparison.Ordinal))
                .Select(l => l.Split('|').Select(c => c.Trim()).ToArray())
                .ToList();
            foreach (var scenario in new[] { "1", "2", "3", "4", "5", "6", "7", "8", "9" })
            {
                Assert.Contains(rows, r => r[1] == scenario);
            }

            // Columns: scenario, measure, Postbox, raw limit, ratio, target, met. Every row has a Postbox figure; every
            // scenario that has a raw limit shows it next to the Postbox figure, with the ratio.
            Assert.All(rows, r => Assert.False(string.IsNullOrEmpty(r[3]) || r[3] == "—", $"no Postbox figure: {string.Join('|', r)}"));
            foreach (var scenario in new[] { "1", "2", "3", "5", "6", "7", "8" })
            {
                Assert.Contains(rows, r => r[1] == scenario && r[4] != "—" && r[4].Length > 0 && r[5] != "—");
            }

            // The lock-only claim prototype drained the same backlog beside the relay, against the same raw limit, and
            // its table growth is reported beside the relay's.
            var prototype = Assert.Single(rows, r => r[1] == "2" && r[2].Contains("lock-only claim **prototype**", StringComparison.Ordinal) && r[2].Contains("msgs/s", StringComparison.Ordinal));
            Assert.NotEqual("—", prototype[5]);
            Assert.Single(rows, r => r[1] == "2" && r[2].StartsWith("outbox table + indexes right after / before the drain", StringComparison.Ordinal) && r[3].EndsWith("×)", StringComparison.Ordinal));

            // The producer's floor (a minimal hand-written row) is measured beside Postbox's modes.
            Assert.Single(rows, r => r[1] == "1" && r[2].Contains("minimal outbox table", StringComparison.Ordinal) && r[5] != "—");

            // The peer (Wolverine) ran in the same run: its figure sits beside Postbox's in the producer, drain,
            // latency and idle rows (columns 8 and 9), never in a row of its own when the Postbox scenario ran.
            Assert.Contains("| Wolverine (same run) | Wolverine ratio |", markdown, StringComparison.Ordinal);
            Assert.All(rows, r => Assert.Equal(11, r.Length));
            foreach (var (scenario, measure) in new[]
            {
                ("1", "NOTIFY on (default)"), ("2", "drain msg/s"), ("2", "CPU s per 1,000 msgs"), ("6", "peak RSS"), ("3", "LISTEN/NOTIFY"),
                ("4", "idle relay: transactions/s"), ("4", "first message after idling"),
            })
            {
                var row = Assert.Single(rows, r => r[1] == scenario && r[2].Contains(measure, StringComparison.Ordinal));
                Assert.False(string.IsNullOrEmpty(row[8]) || row[8] == "—", $"no Wolverine figure: {string.Join('|', row)}");
                Assert.NotEqual("not run", row[3]);
            }
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
