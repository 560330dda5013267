using System.Text;
using System.Text.Json;

namespace Postbox.Storage;

/// <summary>
/// Headers as a flat JSON object of strings: the storage format every store uses, so a message's headers
/// read back identically whichever database holds them.
/// </summary>
internal static class HeaderSerializer
{
    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>(0);

    /// <summary>Serializes <paramref name="headers"/>; <see langword="null"/> when there are none.</summary>
    /// <param name="headers">The headers.</param>
    public static string? Serialize(IDictionary<string, string> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        if (headers.Count == 0)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in headers)
            {
                writer.WriteString(name, value);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Reads headers written by <see cref="Serialize"/> (an empty map for <see langword="null"/>).</summary>
    /// <param name="json">The stored text.</param>
    public static IReadOnlyDictionary<string, string> Deserialize(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return Empty;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read(); // StartObject
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            result[name] = reader.TokenType == JsonTokenType.String ? reader.GetString()! : Encoding.UTF8.GetString(reader.ValueSpan);
        }

        return result;
    }
}
