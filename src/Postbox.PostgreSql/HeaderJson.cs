using Postbox.Storage;

namespace Postbox.PostgreSql;

/// <summary>The <c>headers</c> jsonb column: the shared storage format of <see cref="HeaderSerializer"/>.</summary>
internal static class HeaderJson
{
    public static string? Serialize(IDictionary<string, string> headers) => HeaderSerializer.Serialize(headers);

    public static IReadOnlyDictionary<string, string> Deserialize(string? json) => HeaderSerializer.Deserialize(json);
}
