using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Postbox.Service.Http;

/// <summary>
/// Turns a <see cref="JsonException"/> into a field name and an error in the API's words. System.Text.Json's messages
/// name .NET types (<c>System.String[]</c>, the request record); a client knows only the JSON, so the field comes from the
/// exception's JSON path and the expected JSON type from the request contract.
/// </summary>
internal static partial class JsonErrors
{
    public static (string Field, string Error) Describe(Type contract, JsonException exception)
    {
        ArgumentNullException.ThrowIfNull(contract);
        ArgumentNullException.ThrowIfNull(exception);
        var message = exception.Message;
        var path = exception.Path ?? "$";
        var position = exception.LineNumber is { } line
            ? string.Create(CultureInfo.InvariantCulture, $" (line {line + 1}, byte {exception.BytePositionInLine + 1})")
            : string.Empty;

        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            return (WithName(FieldOf(path), Quoted(message)), "is not a known field.");
        }

        if (message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return (WithName(FieldOf(path), Quoted(message)), "appears more than once.");
        }

        if (message.Contains("maximum configured depth", StringComparison.Ordinal))
        {
            // The path of a 10,000-deep array is 10,000 segments long: name the top-level field only.
            var top = PathSegment().Match(path);
            return (top.Success && top.Groups["name"].Success ? top.Groups["name"].Value : "body", $"nests too deeply (at most 64 levels){position}.");
        }

        if (message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
        {
            var expected = ExpectedAt(contract, path);
            return (FieldOf(path), expected is null ? $"has the wrong JSON type{position}." : $"must be {expected}{position}.");
        }

        // The reader's own syntax errors (trailing garbage, bad token, truncated body) carry no type name, but may quote
        // the input's characters: keep only the position.
        var empty = message.Contains("does not contain any JSON tokens", StringComparison.Ordinal);
        return (FieldOf(path), empty ? "is required: send a JSON object." : $"is not valid JSON{position}.");
    }

    /// <summary><c>$</c> → <c>body</c>; <c>$.to[0]</c> → <c>to[0]</c>.</summary>
    private static string FieldOf(string path) =>
        path == "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    /// <summary>The field at the path, or the named property under it when the path stops at its parent.</summary>
    private static string WithName(string field, string? name) =>
        name is null || field == name || field.EndsWith("." + name, StringComparison.Ordinal) ? field
        : field == "body" ? name
        : $"{field}.{name}";

    private static string? Quoted(string message) => QuotedName().Match(message) is { Success: true } match ? match.Groups[1].Value : null;

    /// <summary>What the contract expects at <paramref name="path"/>, in JSON terms, or <see langword="null"/> if unknown.</summary>
    private static string? ExpectedAt(Type contract, string path)
    {
        var type = contract;
        foreach (Match segment in PathSegment().Matches(path))
        {
            if (segment.Groups["index"].Success)
            {
                type = type.IsArray ? type.GetElementType()! : null;
            }
            else
            {
                var name = segment.Groups["name"].Value;
                type = type?.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.PropertyType;
            }

            if (type is null)
            {
                return null;
            }
        }

        return Kind(type);
    }

    private static string Kind(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return "a string (or null)";
        }

        if (type.IsArray)
        {
            return type.GetElementType() == typeof(string) ? "an array of strings" : "an array";
        }

        return type == typeof(bool) ? "true or false"
            : type.IsPrimitive || type == typeof(decimal) ? "a number"
            : type == typeof(Guid) ? "a UUID string"
            : "a JSON object";
    }

    [GeneratedRegex("'([^']*)'")]
    private static partial Regex QuotedName();

    [GeneratedRegex(@"\.(?<name>[A-Za-z_][A-Za-z0-9_]*)|\[(?<index>\d+)\]")]
    private static partial Regex PathSegment();
}
