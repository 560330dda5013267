using System.Text;
using Postbox.Monitoring;
using Postbox.Service.Cli;
using Spectre.Console;

namespace Postbox.Service.Tests;

/// <summary>What the store holds is shown as it is: a topic, header or error with console markup in it is text.</summary>
public sealed class AdminRenderingTests
{
    private const string Hostile = "[red]unbalanced [/][[ [link=x]";

    [Fact]
    public void Detail_ValuesWithMarkup_AreShownLiterally()
    {
        var summary = new MessageSummary(Guid.NewGuid(), Hostile, Hostile, Hostile, Hostile, MessageState.Dead, 3, DateTimeOffset.UnixEpoch, null,
            DateTimeOffset.UnixEpoch, Hostile);
        var detail = new MessageDetail(summary, new Dictionary<string, string> { [Hostile] = Hostile }, Encoding.UTF8.GetBytes(Hostile), 40, 5, Hostile,
            [new AttemptError(1, DateTimeOffset.UnixEpoch, Hostile)], 0);

        var text = Render(AdminRendering.Detail(MessageSide.Inbox, detail));

        Assert.Contains(Hostile, text, StringComparison.Ordinal);
        Assert.Contains("first 30 of 40 bytes", text, StringComparison.Ordinal);
    }

    [Fact]
    public void List_And_Overview_ValuesWithMarkup_AreShownLiterally()
    {
        var row = new MessageSummary(Guid.NewGuid(), null, Hostile, Hostile, null, MessageState.Dead, 1, DateTimeOffset.UnixEpoch, null, null, Hostile);
        var query = new MessageQuery(MessageSide.Outbox, MessageState.Dead, MessageFilter.None);
        Assert.Contains(Hostile, Render(AdminRendering.List(query, new MessagePage([row], null))), StringComparison.Ordinal);

        var overview = new MonitorOverview(MessageSide.Outbox, [new StateTotal(MessageState.Dead, 7, AtLeast: true)], [new StateCount(Hostile, MessageState.Dead, 7)],
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddMinutes(5));
        var text = Render(AdminRendering.Overview(overview, DateTimeOffset.UnixEpoch.AddMinutes(5)));
        Assert.Contains(Hostile, text, StringComparison.Ordinal);
        Assert.Contains("≥ 7", text, StringComparison.Ordinal);
        Assert.Contains("5 min ago", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ValuesWithTerminalEscapes_AreShownVisibly_NotSentToTheTerminal()
    {
        // An error text (a handler's exception with caller data, a server's reply) or a type can carry ESC sequences:
        // written raw they retitle the window, clear the screen or hide a line from the operator.
        const string Escapes = "T\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202Eend";
        var summary = new MessageSummary(Guid.NewGuid(), Escapes, Escapes, Escapes, Escapes, MessageState.Dead, 3, DateTimeOffset.UnixEpoch, null,
            DateTimeOffset.UnixEpoch, Escapes);
        var detail = new MessageDetail(summary, new Dictionary<string, string> { [Escapes] = Escapes }, Encoding.UTF8.GetBytes("{}"), 2, 5, Escapes,
            [new AttemptError(1, DateTimeOffset.UnixEpoch, Escapes + "\nsecond line")], 0);
        var query = new MessageQuery(MessageSide.Inbox, MessageState.Dead, MessageFilter.None);
        var overview = new MonitorOverview(MessageSide.Inbox, [], [new StateCount(Escapes, MessageState.Dead, 1)], null, DateTimeOffset.UnixEpoch);

        foreach (var text in new[]
        {
            Render(AdminRendering.Detail(MessageSide.Inbox, detail)), Render(AdminRendering.List(query, new MessagePage([summary], null))),
            Render(AdminRendering.Overview(overview, DateTimeOffset.UnixEpoch)),
        })
        {
            Assert.DoesNotContain(text, c => c is '\u001b' or '\u0007' or '\u009b' or '\u202E');
            Assert.Contains("pwned", text, StringComparison.Ordinal);
        }

        Assert.Contains("second line", Render(AdminRendering.Detail(MessageSide.Inbox, detail)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"a\":1}", "\"a\": 1")]
    [InlineData("plain text", "plain text")]
    [InlineData("{\"cut\": \"at the lim", "{\"cut\": \"at the lim")]
    public void Payload_JsonIsIndented_TextIsText(string payload, string expected) =>
        Assert.Contains(expected, AdminRendering.Payload(Encoding.UTF8.GetBytes(payload)), StringComparison.Ordinal);

    [Theory]
    [InlineData("rm -rf /tmp/x\rsafe text           ")] // a lone CR: the rest overwrites the start of the line
    [InlineData("amount \u202E0001\u202C EUR")] // a bidi override reorders what the operator reads
    [InlineData("isolate \u2067tfel\u2069 end")]
    public void Payload_TextWithACarriageReturnOrBidiControl_IsShownVisibly(string payload)
    {
        var summary = new MessageSummary(Guid.NewGuid(), "c", "t", null, null, MessageState.Dead, 1, DateTimeOffset.UnixEpoch, null, null, null);
        var bytes = Encoding.UTF8.GetBytes(payload);
        var detail = new MessageDetail(summary, new Dictionary<string, string>(), bytes, bytes.Length, null, null, [], 0);

        var text = Render(AdminRendering.Detail(MessageSide.Inbox, detail));

        Assert.DoesNotContain(text, c => c is '\r' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'));
        foreach (var word in payload.Split([' ', '\r', '\u202E', '\u202C', '\u2067', '\u2069'], StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.Contains(word, text, StringComparison.Ordinal); // shown, not dropped
        }
    }

    [Fact]
    public void Payload_BinaryIsHex() =>
        Assert.Equal("00FF01", AdminRendering.Payload(new byte[] { 0, 255, 1 }));

    private static string Render(Spectre.Console.Rendering.IRenderable renderable)
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 400;
        console.Write(renderable);
        return writer.ToString();
    }
}
