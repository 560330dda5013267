using System.Globalization;
using System.Text;

namespace Postbox.Bench;

/// <summary>
/// One line of the results table: the Postbox figure next to its raw limit from the same run, and, when the peer ran,
/// the peer's (Wolverine's) figure for the same measure with its own ratio. <see cref="Key"/> names the measure so
/// the peer can find the row; <see cref="RawValue"/> is the raw limit as a number (p99 for latency rows).
/// </summary>
internal sealed record ResultRow(string Scenario, string Measure, string Postbox, string Raw, string Ratio, string Target, string Met)
{
    public string? Key { get; init; }

    public double? RawValue { get; init; }

    public string? Peer { get; init; }

    public string? PeerRatio { get; init; }
}

/// <summary>Collects rows and notes and renders them as Markdown.</summary>
internal sealed class Report
{
    private readonly List<ResultRow> _rows = [];
    private readonly List<(string Scenario, string Text)> _notes = [];

    public IReadOnlyList<ResultRow> Rows => _rows;

    public void Add(string scenario, string measure, string postbox, string raw, double? ratio, string target, bool? met, string? key = null, double? rawValue = null)
    {
        var row = new ResultRow(scenario, measure, postbox, raw, ratio is { } r && double.IsFinite(r) ? F(r, "0.00") : "—", target, met switch { true => "yes", false => "**no**", null => "—" })
        {
            Key = key,
            RawValue = rawValue,
        };
        _rows.Add(row);
        Progress.Say($"  => {measure}: Postbox {postbox} | raw {raw} | ratio {row.Ratio} | target {target} {row.Met}");
    }

    /// <summary>The raw limit (as a number) of the row named <paramref name="key"/>, when that scenario ran.</summary>
    public double? RawOf(string key) => _rows.FirstOrDefault(r => r.Key == key)?.RawValue;

    /// <summary>
    /// Puts the peer's figure beside the row named <paramref name="key"/>; when that Postbox scenario did not run,
    /// adds the row with "not run" for Postbox and <paramref name="raw"/> (the peer's own reference, if any).
    /// </summary>
    public void AddPeer(string key, string scenario, string measure, string peer, double? ratio, string raw = "not run")
    {
        var ratioText = ratio is { } r && double.IsFinite(r) ? F(r, "0.00") : "—";
        var index = _rows.FindIndex(row => row.Key == key);
        if (index >= 0)
        {
            _rows[index] = _rows[index] with { Peer = peer, PeerRatio = ratioText };
        }
        else
        {
            _rows.Add(new ResultRow(scenario, measure, "not run", raw, "—", "—", "—") { Key = key, Peer = peer, PeerRatio = ratioText });
        }

        Progress.Say($"  => {measure}: Wolverine {peer} | ratio {ratioText}");
    }

    public void Note(string scenario, string text)
    {
        _notes.Add((scenario, text));
        Progress.Say($"  .. {text}");
    }

    public static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    public string ToMarkdown(BenchOptions options, IReadOnlyList<string> environment)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"# Postbox benchmark results — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine();
        sb.AppendLine("Command:");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(options.CommandLine);
        sb.AppendLine("```");
        sb.AppendLine();
        foreach (var line in environment)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- {line}");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"- Sizes: {options.Describe()}");
        sb.AppendLine();
        var peer = _rows.Any(r => r.Peer is not null);
        sb.AppendLine("| # | measure | Postbox | raw limit (same run) | ratio | target | met |" + (peer ? " Wolverine (same run) | Wolverine ratio |" : ""));
        sb.AppendLine("|---|---|---:|---:|---:|---|---|" + (peer ? "---:|---:|" : ""));
        foreach (var r in _rows)
        {
            var peerCells = peer ? $" {r.Peer ?? "—"} | {r.PeerRatio ?? "—"} |" : "";
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Scenario} | {r.Measure} | {r.Postbox} | {r.Raw} | {r.Ratio} | {r.Target} | {r.Met} |{peerCells}");
        }

        if (_notes.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## Details");
            sb.AppendLine();
            foreach (var group in _notes.GroupBy(n => n.Scenario))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"**{group.Key}**");
                sb.AppendLine();
                foreach (var (_, text) in group)
                {
                    sb.AppendLine(CultureInfo.InvariantCulture, $"- {text}");
                }

                sb.AppendLine();
            }
        }

        return sb.ToString();
    }
}

/// <summary>Progress lines on stderr with the elapsed time, so the table on stdout stays clean.</summary>
internal static class Progress
{
    private static readonly System.Diagnostics.Stopwatch Clock = System.Diagnostics.Stopwatch.StartNew();

    public static void Say(string text) => Console.Error.WriteLine($"[{Clock.Elapsed:mm\\:ss}] {text}");
}
