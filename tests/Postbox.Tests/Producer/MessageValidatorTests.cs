using System.Text.RegularExpressions;
using Postbox.Producer;

namespace Postbox.Tests.Producer;

/// <summary>
/// The validator's rules, input by input. The stores' side of the same rules (that a refused message leaves the
/// caller's transaction usable, and that what is accepted round-trips) is the shared conformance suite's.
/// </summary>
public sealed class MessageValidatorTests
{
    private const int Limit = 1024;

    // Theory texts are written escaped (\uXXXX) so that test names stay printable, valid Unicode.
    private static string Unescape(string escaped) => Regex.Unescape(escaped);

    private static OutboxMessage WithText(string field, string text)
    {
        var message = field switch
        {
            "Topic" => new OutboxMessage(text, new byte[1]),
            "Key" => new OutboxMessage("orders", new byte[1]) { Key = text },
            "Type" => new OutboxMessage("orders", new byte[1]) { Type = text },
            _ => new OutboxMessage("orders", new byte[1]),
        };
        if (field == "Header name")
        {
            message.Headers[text] = "v";
        }
        else if (field == "Header 'x-h' value")
        {
            message.Headers["x-h"] = text;
        }

        return message;
    }

    private static ArgumentException Refused(OutboxMessage message, int index = 3) =>
        Assert.Throws<ArgumentException>(() => MessageValidator.Validate(message, index, Limit));

    private static void AssertRefused(OutboxMessage message, string field, string reason)
    {
        var error = Refused(message);
        Assert.StartsWith($"Message #3 ({message.Id}): {field}", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_AcceptsTheEdgesOfEveryRule()
    {
        var message = new OutboxMessage(new string('t', 255), new byte[Limit])
        {
            Key = string.Concat(Enumerable.Repeat("😀", 127)) + " ",
            Type = "Rechnung · 請求書 😀",
            MaxAttempts = 1,
            AvailableAt = new DateTimeOffset(9999, 12, 30, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999),
        };
        message.Headers[new string('h', 255)] = "";
        message.Headers["x-controls"] = string.Concat(Enumerable.Range(1, 0x9F).Select(c => (char)c));
        message.Headers["x-😀"] = "\uD83D\uDE00 \uFFFD \uFEFF \uFFFF";

        MessageValidator.Validate(message, 0, Limit);
        MessageValidator.Validate(new OutboxMessage("o", ReadOnlyMemory<byte>.Empty) { Key = " ", AvailableAt = DateTimeOffset.MinValue }, 0, Limit);
    }

    [Theory]
    [InlineData("Topic")]
    [InlineData("Key")]
    [InlineData("Type")]
    [InlineData("Header name")]
    [InlineData("Header 'x-h' value")]
    public void Validate_RefusesNul_InEveryField(string field)
    {
        AssertRefused(WithText(field, "a\0b"), field, "NUL (U+0000) at index 1");
        AssertRefused(WithText(field, "\0"), field, "NUL (U+0000) at index 0");
    }

    [Theory]
    [InlineData("Topic", @"a\uD800b", "U+D800) at index 1")]
    [InlineData("Key", @"ab\uD83D", "U+D83D) at index 2")]
    [InlineData("Type", @"\uDC00a", "U+DC00) at index 0")]
    [InlineData("Header name", @"\uDE00\uD83D", "U+DE00) at index 0")]
    [InlineData("Header 'x-h' value", @"\uD83D\uDE00\uDE00", "U+DE00) at index 2")]
    [InlineData("Header 'x-h' value", @"\uD83D\uD83D\uDE00", "U+D83D) at index 0")]
    public void Validate_RefusesUnpairedSurrogates_InEveryField(string field, string text, string reason) =>
        AssertRefused(WithText(field, Unescape(text)), field, "unpaired surrogate (" + reason);

    [Theory]
    [InlineData("Topic")]
    [InlineData("Key")]
    [InlineData("Type")]
    [InlineData("Header name")]
    public void Validate_RefusesEveryControlCharacter_InNamesAndKeys(string field)
    {
        foreach (var c in Enumerable.Range(1, 0x1F).Concat(Enumerable.Range(0x7F, 0x21)).Select(i => (char)i))
        {
            AssertRefused(WithText(field, $"a{c}b"), field, $"control character U+{(int)c:X4} at index 1");
        }
    }

    [Theory]
    [InlineData("Topic", " orders")]
    [InlineData("Topic", @"orders\u3000")]
    [InlineData("Type", @"\u00A0Invoice")]
    [InlineData("Type", "   ")]
    [InlineData("Header name", "x-h ")]
    public void Validate_RefusesNamesBeginningOrEndingWithWhiteSpace(string field, string text) =>
        AssertRefused(WithText(field, Unescape(text)), field, "begins or ends with white space");

    [Fact]
    public void Validate_AllowsWhiteSpaceInsideNames_AndAnywhereInKeys()
    {
        MessageValidator.Validate(WithText("Topic", "order events"), 0, Limit);
        MessageValidator.Validate(WithText("Header name", "x h"), 0, Limit);
        MessageValidator.Validate(WithText("Key", " k "), 0, Limit);
    }

    [Fact]
    public void Validate_RefusesEmptyTypeAndKey_AndTooLongNames()
    {
        AssertRefused(WithText("Type", ""), "Type", "null or 1 to 255");
        AssertRefused(WithText("Key", ""), "Key", "null or 1 to 255");
        AssertRefused(WithText("Topic", new string('t', 256)), "Topic", "longer than 255");
        AssertRefused(WithText("Key", new string('k', 256)), "Key", "null or 1 to 255");
        AssertRefused(WithText("Type", new string('t', 256)), "Type", "longer than 255");
        AssertRefused(WithText("Header name", new string('h', 256)), "Header names", "1 to 255");
        AssertRefused(WithText("Header name", ""), "Header names", "1 to 255");
    }

    [Fact]
    public void Validate_RefusesAvailableAtFromTheLastDayOfYear9999()
    {
        AssertRefused(new OutboxMessage("o", new byte[1]) { AvailableAt = DateTimeOffset.MaxValue }, "AvailableAt", "never be published");
        AssertRefused(new OutboxMessage("o", new byte[1]) { AvailableAt = new DateTimeOffset(9999, 12, 31, 9, 0, 0, TimeSpan.FromHours(9)) }, "AvailableAt", "never");
        MessageValidator.Validate(new OutboxMessage("o", new byte[1]) { AvailableAt = new DateTimeOffset(9999, 12, 31, 8, 59, 59, TimeSpan.FromHours(9)) }, 0, Limit);
    }

    [Fact]
    public void Validate_RefusesBadAttemptsPayloadAndId()
    {
        AssertRefused(new OutboxMessage("o", new byte[1]) { MaxAttempts = 0 }, "MaxAttempts", "at least 1");
        AssertRefused(new OutboxMessage("o", new byte[1]) { MaxAttempts = int.MinValue }, "MaxAttempts", "at least 1");
        AssertRefused(new OutboxMessage("o", new byte[Limit + 1]), "Payload", $"{Limit + 1} bytes");
        AssertRefused(new OutboxMessage("o", new byte[1]) { Id = Guid.Empty }, "Id", "empty");
    }

    [Fact]
    public void Validate_ErrorMessage_ShowsAnUnprintableHeaderNameEscaped()
    {
        var error = Refused(WithText("Header name", "x\ny\0"));

        Assert.Contains(@"Header name 'x\u000Ay\u0000'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal("message", error.ParamName);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(-5)]
    [InlineData(14)]
    [InlineData(-12)]
    public void AvailableAt_WithAnOffset_IsKeptAsTheSameInstantInUtc(int hours)
    {
        var instant = new DateTimeOffset(2026, 3, 1, 8, 30, 0, TimeSpan.Zero).AddTicks(1234567);
        var message = new OutboxMessage("o", new byte[1]) { AvailableAt = instant.ToOffset(TimeSpan.FromHours(hours)) };

        Assert.Equal(TimeSpan.Zero, message.AvailableAt!.Value.Offset);
        Assert.Equal(instant.AddTicks(-7), message.AvailableAt.Value); // whole microseconds: 123456.7 µs → 123456 µs
    }

    [Fact]
    public void AvailableAt_AtTheEndsOfTheRange_AndFromDateTimes_IsUtc()
    {
        Assert.Equal(DateTimeOffset.MinValue, new OutboxMessage("o", new byte[1]) { AvailableAt = DateTimeOffset.MinValue }.AvailableAt);
        Assert.Equal(DateTimeOffset.MaxValue.AddTicks(-9), new OutboxMessage("o", new byte[1]) { AvailableAt = DateTimeOffset.MaxValue }.AvailableAt);
        Assert.Null(new OutboxMessage("o", new byte[1]) { AvailableAt = null }.AvailableAt);

        var utc = new DateTime(2026, 3, 1, 8, 30, 0, DateTimeKind.Utc);
        var local = utc.ToLocalTime();
        foreach (var value in new[] { utc, local, DateTime.SpecifyKind(local, DateTimeKind.Unspecified) })
        {
            var message = new OutboxMessage("o", new byte[1]) { AvailableAt = value };
            Assert.Equal((new DateTimeOffset(utc), TimeSpan.Zero), (message.AvailableAt!.Value, message.AvailableAt.Value.Offset));
        }
    }

    [Theory]
    [InlineData(2, 0, 1)]
    [InlineData(16, 3, 15)]
    [InlineData(17, 3, 16)]
    [InlineData(5000, 4000, 4999)]
    public void EnsureDistinct_NamesTheFirstRepeatedPair(int count, int first, int second)
    {
        var messages = Enumerable.Range(0, count).Select(_ => new OutboxMessage("o", new byte[1])).ToList();
        MessageIds.EnsureDistinct(messages);
        messages[second] = new OutboxMessage("other", new byte[1]) { Id = messages[first].Id };

        var error = Assert.Throws<ArgumentException>(() => MessageIds.EnsureDistinct(messages));

        Assert.StartsWith($"Messages #{first} and #{second} have the same Id ({messages[first].Id})", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureDistinct_AcceptsEmptyAndSingleCalls()
    {
        MessageIds.EnsureDistinct([]);
        MessageIds.EnsureDistinct([new OutboxMessage("o", new byte[1])]);
    }
}
