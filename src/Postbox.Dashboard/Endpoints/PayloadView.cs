using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Postbox.Dashboard;

/// <summary>A payload as the detail page shows it: pretty JSON when it parses, text when it is UTF-8, a hex dump otherwise.</summary>
/// <param name="Kind"><c>json</c>, <c>text</c>, <c>hex</c> or <c>none</c> (the store no longer keeps it).</param>
/// <param name="Text">What to show.</param>
/// <param name="Length">The full payload length in bytes.</param>
/// <param name="Truncated">Whether only the first bytes are shown.</param>
internal sealed record PayloadView(string Kind, string Text, int? Length, bool Truncated)
{
    private const int HexBytes = 4096;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static PayloadView From(ReadOnlyMemory<byte> bytes, int? length)
    {
        if (length is null)
        {
            return new PayloadView("none", string.Empty, null, false);
        }

        var truncated = bytes.Length < length;
        if (!truncated)
        {
            try
            {
                using var document = JsonDocument.Parse(bytes);
                return new PayloadView("json", JsonSerializer.Serialize(document.RootElement, Indented), length, false);
            }
            catch (JsonException)
            {
                // Not JSON: shown as text or hex below.
            }
        }

        try
        {
            var text = StrictUtf8.GetString(bytes.Span);
            if (!text.Any(c => char.IsControl(c) && c is not ('\r' or '\n' or '\t')))
            {
                return new PayloadView("text", text, length, truncated);
            }
        }
        catch (DecoderFallbackException)
        {
            // Binary (or cut inside a character): hex below.
        }

        var shown = bytes.Span[..Math.Min(bytes.Length, HexBytes)];
        var hex = new StringBuilder();
        for (var offset = 0; offset < shown.Length; offset += 16)
        {
            var line = shown.Slice(offset, Math.Min(16, shown.Length - offset));
            hex.Append(offset.ToString("x8", CultureInfo.InvariantCulture)).Append("  ");
            foreach (var b in line)
            {
                hex.Append(b.ToString("x2", CultureInfo.InvariantCulture)).Append(' ');
            }

            hex.Append(' ', (16 - line.Length) * 3).Append(' ');
            foreach (var b in line)
            {
                hex.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
            }

            hex.Append('\n');
        }

        return new PayloadView("hex", hex.ToString(), length, truncated || shown.Length < bytes.Length);
    }
}
