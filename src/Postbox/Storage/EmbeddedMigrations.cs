using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Postbox.Storage;

/// <summary>One embedded migration script: <c>Migrations/NNN_name.up.sql</c> of a store's assembly.</summary>
/// <param name="Version">The number <c>NNN</c>.</param>
/// <param name="Name">The <c>name</c> part, recorded in the bookkeeping table.</param>
/// <param name="Sql">The script, with the store's placeholders (<c>{schema}</c>, <c>{prefix}</c>) not yet replaced.</param>
internal sealed record EmbeddedMigration(int Version, string Name, string Sql);

/// <summary>
/// Reads a store's numbered migration scripts from its assembly's embedded resources, the same way for every store
/// (river's <c>NNN_name.up.sql</c> convention), and the checks on bookkeeping that do not depend on the database.
/// </summary>
internal static partial class EmbeddedMigrations
{
    /// <summary>The migrations embedded in <paramref name="assembly"/>, in version order.</summary>
    /// <param name="assembly">The store's assembly (its <c>Migrations/*.sql</c> are embedded resources).</param>
    public static List<EmbeddedMigration> Load(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var result = new List<EmbeddedMigration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = MigrationName().Match(resource);
            if (!match.Success)
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var text = new StreamReader(stream);
            result.Add(new EmbeddedMigration(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), match.Groups[2].Value, text.ReadToEnd()));
        }

        result.Sort(static (a, b) => a.Version.CompareTo(b.Version));
        return result;
    }

    /// <summary>
    /// Whether bookkeeping rows left by an earlier Postbox build are Postbox's: only if there are some and every one
    /// names one of <paramref name="migrations"/> under its own name (the same three columns alone are a common layout).
    /// </summary>
    /// <param name="rows">Version → name, as found.</param>
    /// <param name="migrations">This build's migrations.</param>
    public static bool AreOurs(IReadOnlyDictionary<int, string> rows, IEnumerable<EmbeddedMigration> migrations)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var known = migrations.ToDictionary(m => m.Version, m => m.Name);
        return rows.Count > 0 && rows.All(r => known.TryGetValue(r.Key, out var name) && name == r.Value);
    }

    [GeneratedRegex(@"Migrations\.(\d{3})_([a-z0-9_]+)\.up\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex MigrationName();
}
