using System.Collections.Frozen;

namespace Postbox.Dashboard;

/// <summary>The UI's files, embedded in the assembly (no CDN, works offline), read once.</summary>
internal sealed class DashboardAssets
{
    private const string Prefix = "Postbox.Dashboard.Assets.";

    private readonly FrozenDictionary<string, (byte[] Content, string ContentType)> _files;

    public DashboardAssets()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var file = name[Prefix.Length..];
            files[file] = (copy.ToArray(), ContentType(file));
        }

        _files = files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public bool TryGet(string file, out byte[] content, out string contentType)
    {
        if (_files.TryGetValue(file, out var entry))
        {
            (content, contentType) = entry;
            return true;
        }

        content = [];
        contentType = string.Empty;
        return false;
    }

    private static string ContentType(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
