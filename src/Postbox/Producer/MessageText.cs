using System.Buffers;
using System.Globalization;
using System.Text;

namespace Postbox.Producer;

/// <summary>How strictly a message's string is checked; see <c>docs/guarantees.md</c> ("What enqueue refuses").</summary>
internal enum TextRule
{
    /// <summary>Data (header values): any text every store can hold — no NUL, no unpaired surrogate.</summary>
    Value,

    /// <summary>An opaque identifier (<see cref="OutboxMessage.Key"/>): a value, and no control character either.</summary>
    Key,

    /// <summary>A name (topic, type, header name): a key, and not beginning or ending with white space.</summary>
    Name,
}

/// <summary>
/// The text every store can hold. PostgreSQL <c>text</c> and <c>jsonb</c> refuse NUL (22021, 22P05) and text that is
/// not valid UTF-8 (an unpaired UTF-16 surrogate has no UTF-8 form); MySQL's utf8mb4 refuses the latter too. Either
/// failure would abort the caller's whole transaction, so such text is refused before any statement runs.
/// </summary>
internal static class MessageText
{
    // Everything that needs a closer look: C0 and C1 control characters (NUL among them) and surrogates.
    private static readonly SearchValues<char> Suspicious = SearchValues.Create(
        string.Concat(Range('\u0000', '\u001F'), Range('\u007F', '\u009F'), Range('\uD800', '\uDFFF')));

    /// <summary>Why <paramref name="value"/> breaks <paramref name="rule"/> (a phrase completing "Topic …"), or <see langword="null"/>.</summary>
    public static string? Problem(string value, TextRule rule)
    {
        var span = value.AsSpan();
        var offset = 0;
        while (true)
        {
            var found = span[offset..].IndexOfAny(Suspicious);
            if (found < 0)
            {
                break;
            }

            var i = offset + found;
            var c = span[i];
            if (c == '\0')
            {
                return $"contains NUL (U+0000) at index {i}, which PostgreSQL cannot store";
            }

            if (char.IsHighSurrogate(c) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                offset = i + 2;
                continue;
            }

            if (char.IsSurrogate(c))
            {
                return $"contains an unpaired surrogate ({CodePoint(c)}) at index {i}: not valid Unicode, so it has no UTF-8 form to store";
            }

            if (rule != TextRule.Value)
            {
                return $"contains the control character {CodePoint(c)} at index {i}; names and keys may not contain control characters";
            }

            offset = i + 1;
        }

        if (rule == TextRule.Name && value.Length > 0 && (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1])))
        {
            return "begins or ends with white space";
        }

        return null;
    }

    /// <summary><paramref name="value"/> fit for an error message: control characters and surrogates escaped, at most 64 characters.</summary>
    public static string Printable(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, 64) + 8);
        foreach (var c in value.Length > 64 ? value[..64] : value)
        {
            if (char.IsControl(c) || char.IsSurrogate(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return value.Length > 64 ? builder.Append('…').ToString() : builder.ToString();
    }

    private static string CodePoint(char c) => string.Create(CultureInfo.InvariantCulture, $"U+{(int)c:X4}");

    private static string Range(char first, char last)
    {
        var chars = new char[last - first + 1];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = (char)(first + i);
        }

        return new string(chars);
    }
}
