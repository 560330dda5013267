using System.Text.RegularExpressions;

namespace Postbox.MySql;

/// <summary>Table names derived from the configured prefix (validated, so they can be spliced into SQL).</summary>
internal sealed partial class MySqlTables
{
    public MySqlTables(string prefix)
    {
        if (!IsValid(prefix))
        {
            throw new ArgumentException($"Invalid Postbox table prefix '{prefix}': use lower-case letters, digits and underscores, starting with a letter or underscore, at most 40 characters.", nameof(prefix));
        }

        Prefix = prefix;
        Outbox = prefix + "outbox";
        ClaimLock = prefix + "outbox_claim_lock";
        Inbox = prefix + "inbox";
        Pauses = prefix + "pauses";
        // Postbox's own bookkeeping, named so it cannot collide with an application's (or a migration tool's)
        // generic schema_migrations table in the same database.
        Migrations = (prefix.Length == 0 ? "postbox_" : prefix) + "migrations";
    }

    public string Prefix { get; }

    public string Outbox { get; }

    public string ClaimLock { get; }

    public string Inbox { get; }

    /// <summary>Paused outbox topics and inbox consumers (migration 006).</summary>
    public string Pauses { get; }

    public string Migrations { get; }

    public static bool IsValid(string? prefix) => prefix is not null && PrefixPattern().IsMatch(prefix);

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$|^$", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixPattern();
}
