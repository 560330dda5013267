using System.Globalization;
using System.Text;
using System.Text.Json;
using Postbox.Monitoring;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Postbox.Service.Cli;

/// <summary>
/// Tables and panels of <c>admin</c>. Every value from the store goes through <see cref="Text"/>, never markup: a topic or
/// an error message with <c>[</c> in it is shown as it is, not interpreted.
/// </summary>
internal static class AdminRendering
{
    /// <summary>Under an empty list of delivered outbox messages: why it is empty by default.</summary>
    public const string NoDeliveredHistory = "Delivered messages are kept only when Postbox:Relay:DeliveredRetention is above 0; "
        + "by default the relay deletes each message once the broker confirms it.";

    private static IEnumerable<MessageState> States => StateNames.Select(s => s.State);

    /// <summary>The states' names on the command line and in the tables, in display order.</summary>
    public static readonly IReadOnlyList<(MessageState State, string Name)> StateNames =
        [(MessageState.Ready, "ready"), (MessageState.InFlight, "in-flight"), (MessageState.Scheduled, "scheduled"), (MessageState.Dead, "dead"), (MessageState.Done, "done")];

    public static string StateName(MessageState state) => StateNames.First(s => s.State == state).Name;

    public static IRenderable Overview(MonitorOverview overview, DateTimeOffset now)
    {
        var outbox = overview.Side == MessageSide.Outbox;
        var table = new Table().Title(outbox ? "Outbox" : "Inbox").AddColumn(outbox ? "topic" : "consumer");
        foreach (var state in States)
        {
            table.AddColumn(new TableColumn(StateName(state)).RightAligned());
        }

        foreach (var group in overview.Groups.GroupBy(g => g.Name, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            table.AddRow([new Text(Safe(group.Key)), .. States.Select(s => new Text(Count(group.Where(g => g.State == s).Sum(g => g.Count), false)))]);
        }

        table.AddRow([new Markup("[bold]all[/]"), .. States.Select(s => overview.Totals.FirstOrDefault(t => t.State == s) is { } t
            ? new Text(Count(t.Count, t.AtLeast)) : new Text("0"))]);
        var oldest = overview.OldestPendingAt is { } at ? $"oldest pending: {Age(now - at)} ago ({Time(at)})" : "nothing pending";
        table.Caption(oldest);
        return table;
    }

    /// <summary>The paused outbox topics and inbox consumers (IPostboxPauses).</summary>
    public static IRenderable Paused(IReadOnlyList<PausedName> paused, DateTimeOffset now)
    {
        var table = new Table().Title("Paused").AddColumns("side", "topic / consumer", "paused", "by");
        foreach (var p in paused)
        {
            table.AddRow(new Text(p.Side == MessageSide.Outbox ? "outbox" : "inbox"), new Text(Safe(p.Name)),
                new Text($"{Time(p.PausedAt)} ({Age(now - p.PausedAt)} ago)"), new Text(Safe(p.PausedBy)));
        }

        return table;
    }

    public static IRenderable List(MessageQuery query, MessagePage page)
    {
        var inbox = query.Side == MessageSide.Inbox;
        var table = new Table().Title($"{(inbox ? "Inbox" : "Outbox")}: {StateName(query.State)}")
            .AddColumns("id", inbox ? "consumer" : "topic", "key", "attempts", "created", query.State switch { MessageState.Done => "finished", MessageState.Dead => "dead since", _ => "next attempt" }, "last error");
        foreach (var m in page.Items)
        {
            table.AddRow(new Text(m.Id.ToString()), new Text(Safe(inbox ? $"{m.Consumer} ({m.Topic})" : m.Topic)), new Text(Safe(m.Key)),
                new Text(m.Attempts.ToString(CultureInfo.InvariantCulture)), new Text(Time(m.CreatedAt)),
                new Text(Time(query.State is MessageState.Done or MessageState.Dead ? m.FinishedAt : m.NextAttemptAt)), new Text(Safe(Shorten(m.LastError, 80))));
        }

        return table;
    }

    public static IRenderable Detail(MessageSide side, MessageDetail detail)
    {
        var s = detail.Summary;
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string name, string? value) => grid.AddRow(new Text(Safe(name), new Style(decoration: Decoration.Bold)), new Text(value is null ? "—" : Safe(value)));
        Row("id", s.Id.ToString());
        Row("side", side == MessageSide.Outbox ? "outbox" : "inbox");
        if (s.Consumer is not null)
        {
            Row("consumer", s.Consumer);
        }

        Row("topic", s.Topic);
        Row("key", s.Key);
        Row("type", s.Type);
        Row("state", StateName(s.State));
        Row("attempts", detail.MaxAttempts is { } max ? $"{s.Attempts} of {max}" : s.Attempts.ToString(CultureInfo.InvariantCulture));
        Row("replays", detail.Replays.ToString(CultureInfo.InvariantCulture));
        Row("created", Time(s.CreatedAt));
        Row("next attempt", Time(s.NextAttemptAt));
        Row("finished", Time(s.FinishedAt));
        Row("lease owner", detail.LeaseOwner);
        foreach (var header in detail.Headers.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            Row($"header {header.Key}", header.Value);
        }

        var length = detail.PayloadLength ?? detail.Payload.Length;
        var cut = length > detail.Payload.Length ? $" (first {detail.Payload.Length:N0} of {length:N0} bytes)" : "";
        Row("payload", $"{length:N0} bytes{cut}");
        grid.AddRow(new Text(""), new Text(Payload(detail.Payload.Span)));

        if (detail.Errors.Count > 0)
        {
            var errors = new Table().AddColumns("attempt", "at", "error");
            foreach (var e in detail.Errors)
            {
                errors.AddRow(new Text(e.Attempt.ToString(CultureInfo.InvariantCulture)), new Text(Time(e.At)), new Text(Safe(e.Error)));
            }

            return new Rows(new Panel(grid).Header(s.Id.ToString()), errors);
        }

        return new Panel(grid).Header(s.Id.ToString());
    }

    /// <summary>Indented JSON when the payload is JSON, the text when it is UTF-8, hex otherwise.</summary>
    internal static string Payload(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return "(empty)";
        }

        try
        {
            using var json = JsonDocument.Parse(payload.ToArray());
            return JsonSerializer.Serialize(json.RootElement, IndentedJson);
        }
        catch (JsonException)
        {
            // Not JSON (or cut at the size limit): text or hex below.
        }

        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(payload);
            if (!text.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            {
                return Safe(text); // bidirectional controls (no control characters) would reorder what the operator reads
            }
        }
        catch (DecoderFallbackException)
        {
            // Binary: hex below.
        }

        return Convert.ToHexString(payload[..Math.Min(payload.Length, 4096)]) + (payload.Length > 4096 ? " …" : "");
    }

    /// <summary>
    /// The text with control characters (but line breaks and tabs) and bidirectional overrides written as <c>\u001B</c>:
    /// a value from the store must not drive the operator's terminal (retitle it, clear it, hide or reorder a line).
    /// </summary>
    internal static string Safe(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Any(Unsafe))
        {
            return text ?? string.Empty;
        }

        text = text.ReplaceLineEndings("\n"); // a lone CR would let the rest of a value overwrite the start of its line

        var safe = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (Unsafe(c))
            {
                safe.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                safe.Append(c);
            }
        }

        return safe.ToString();

        static bool Unsafe(char c) => (char.IsControl(c) && c is not ('\n' or '\t')) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');
    }

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    private static string Count(long count, bool atLeast) => (atLeast ? "≥ " : "") + count.ToString("N0", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset? at) => at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "—";

    private static string Age(TimeSpan age) => age < TimeSpan.Zero ? "0 s"
        : age.TotalSeconds < 120 ? $"{age.TotalSeconds:F0} s"
        : age.TotalMinutes < 120 ? $"{age.TotalMinutes:F0} min"
        : $"{age.TotalHours:F1} h";

    private static string Shorten(string? text, int max)
    {
        var line = (text ?? "").ReplaceLineEndings(" ");
        return line.Length <= max ? line : line[..(max - 1)] + "…";
    }
}
