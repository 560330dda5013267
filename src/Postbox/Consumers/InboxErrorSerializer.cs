using System.Text.Json;

namespace Postbox.Consumers;

/// <summary>
/// Reads an inbox row's error history: a JSON array of <c>{"attempt", "at", "error"}</c> objects, the storage
/// format every inbox store writes.
/// </summary>
internal static class InboxErrorSerializer
{
    /// <summary>Parses a stored error history.</summary>
    /// <param name="json">The stored JSON array.</param>
    public static IReadOnlyList<InboxError> Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        var errors = new List<InboxError>(document.RootElement.GetArrayLength());
        foreach (var element in document.RootElement.EnumerateArray())
        {
            errors.Add(new InboxError(
                element.GetProperty("attempt").GetInt32(),
                element.GetProperty("at").GetDateTimeOffset(),
                element.GetProperty("error").GetString() ?? string.Empty));
        }

        return errors;
    }
}
