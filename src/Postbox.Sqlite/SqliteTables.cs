using System.Text.RegularExpressions;

namespace Postbox.Sqlite;

/// <summary>Table names derived from the configured prefix.</summary>
internal sealed partial class SqliteTables
{
    public SqliteTables(string prefix)
    {
        if (!IsValid(prefix))
        {
            throw new ArgumentException($"Invalid Postbox table prefix '{prefix}': use lower-case letters, digits and underscores, at most 40 characters.", nameof(prefix));
        }

        Prefix = prefix;
        Outbox = prefix + "outbox";
        Inbox = prefix + "inbox";
        Migrations = prefix + "schema_migrations";
    }

    public string Prefix { get; }

    public string Outbox { get; }

    public string Inbox { get; }

    public string Migrations { get; }

    public static bool IsValid(string? prefix) => prefix is not null && PrefixPattern().IsMatch(prefix);

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$|^$", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixPattern();
}
