using Postbox.Storage;

namespace Postbox.Tests.Storage;

public sealed class HeaderSerializerTests
{
    [Fact]
    public void RoundTrip_OfStrings_IsExact()
    {
        var headers = new Dictionary<string, string> { ["traceparent"] = "00-abc-01", ["ünï"] = "\"quoted\"\n", ["empty"] = "" };
        Assert.Equal(headers, HeaderSerializer.Deserialize(HeaderSerializer.Serialize(headers)));
    }

    [Fact]
    public void NestedValues_ReadWhole_AndLaterHeadersAreKept()
    {
        // The order PostgreSQL's jsonb stores keys in (shorter first): the header after the nested ones used to be lost,
        // and the nested object read as "{".
        var headers = HeaderSerializer.Deserialize("""{"n": 1, "o": {"x": [1, 2], "y": {"z": null}}, "a": [], "<h>": "v", "t": true, "u": null}""");
        Assert.Equal("1", headers["n"]);
        Assert.Equal("""{"x": [1, 2], "y": {"z": null}}""", headers["o"]);
        Assert.Equal("[]", headers["a"]);
        Assert.Equal("v", headers["<h>"]);
        Assert.Equal("true", headers["t"]);
        Assert.Equal("null", headers["u"]);
        Assert.Equal(6, headers.Count);
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("\"just a string\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("{\"a\": ")]
    [InlineData("{\"a\": \"b\"")]
    [InlineData("not json")]
    [InlineData("{\"a\": \"b\",}")]
    public void TextThatIsNotAJsonObject_ReadsAsNoHeaders_InsteadOfThrowing(string stored) =>
        Assert.Empty(HeaderSerializer.Deserialize(stored));

    [Fact]
    public void NullOrEmpty_ReadsAsNoHeaders()
    {
        Assert.Empty(HeaderSerializer.Deserialize(null));
        Assert.Empty(HeaderSerializer.Deserialize(""));
    }
}
