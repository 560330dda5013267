using System.Globalization;
using System.Text;

namespace Postbox.Bench;

/// <summary>One line of the results table: the Postbox figure next to its raw limit from the same run.</summary>
internal sealed record ResultRow(string Scenario, string Measure, string Postbox, string Raw, string Ratio, string Target, string Met);

/// <summary>Collects rows and notes and renders them as Markdown.</summary>
internal sealed class Report
{
    private readonly List<ResultRow> _rows = [];
    private readonly List<(string Scenario, string Text)> _notes = [];

    public IReadOnlyList<ResultRow> Rows => _rows;

    public void Add(string scenario, string measure, string postbox, string raw, double? ratio, string target, bool? met)
    {
        var row = new ResultRow(scenario, measure, postbox, raw, ratio is { } r ? F(r, "0.00") : "—", target, met switch { true => "yes", false => "**no**", null => "—" });
        _rows.Add(row);
        Progress.Say($"  => {measure}: Postbox {postbox} | raw {raw} | ratio {row.Ratio} | target {target} {row.Met}");
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
        sb.AppendLine("| # | measure | Postbox | raw limit (same run) | ratio | target | met |");
        sb.AppendLine("|---|---|---:|---:|---:|---|---|");
        foreach (var r in _rows)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Scenario} | {r.Measure} | {r.Postbox} | {r.Raw} | {r.Ratio} | {r.Target} | {r.Met} |");
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
