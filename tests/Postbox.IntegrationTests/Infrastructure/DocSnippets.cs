using System.Runtime.CompilerServices;

namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>
/// Checks that a page shows the parts of a compiled source file between <c>// DOCS:{part}:begin</c> and
/// <c>// DOCS:{part}:end</c>, line by line (indentation and blank lines aside), so the page's code cannot drift.
/// </summary>
public static class DocSnippets
{
    public static void AssertShown(string page, string source, params string[] parts)
    {
        var root = RepositoryRoot();
        var text = Normalize(File.ReadAllText(Path.Combine(root, page)));
        var code = File.ReadAllText(Path.Combine(root, source));
        foreach (var part in parts)
        {
            var begin = code.IndexOf($"// DOCS:{part}:begin", StringComparison.Ordinal);
            var end = code.IndexOf($"// DOCS:{part}:end", StringComparison.Ordinal);
            Assert.True(begin >= 0 && end > begin, $"{source} has no DOCS:{part} markers.");
            var snippet = Normalize(code[(code.IndexOf('\n', begin) + 1)..end]);
            Assert.True(text.Contains(snippet, StringComparison.Ordinal), $"{page} does not show the '{part}' part of {source} as compiled:\n{snippet}");
        }
    }

    public static string RepositoryRoot([CallerFilePath] string source = "")
    {
        var root = Path.GetDirectoryName(source);
        while (root is not null && !File.Exists(Path.Combine(root, "Postbox.slnx")))
        {
            root = Path.GetDirectoryName(root);
        }

        return root ?? throw new InvalidOperationException($"Repository root not found above {source}.");
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
