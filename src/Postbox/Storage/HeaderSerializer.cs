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

    /// <summary>
    /// Reads headers written by <see cref="Serialize"/> (an empty map for <see langword="null"/>). Rows not written by
    /// Postbox (by hand, by another producer) must not stop a relay or a worker: a value that is not a string reads as
    /// its JSON text (a nested object or array whole), and text that is not a JSON object reads as no headers.
    /// </summary>
    /// <param name="json">The stored text.</param>
    public static IReadOnlyDictionary<string, string> Deserialize(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return Empty;
        }

        var bytes = Encoding.UTF8.GetBytes(json);
        try
        {
            return Read(bytes);
        }
        catch (JsonException)
        {
            return Empty;
        }
    }

    private static Dictionary<string, string> Read(byte[] bytes)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(bytes);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return result;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    result[name] = reader.GetString()!;
                    break;
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    result[name] = Encoding.UTF8.GetString(bytes, start, (int)reader.BytesConsumed - start);
                    break;
                default:
                    result[name] = Encoding.UTF8.GetString(reader.ValueSpan);
                    break;
            }
        }

        return result;
    }
}
