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
        Pauses = prefix + "pauses";
        // Always ends in "postbox_migrations" (a name no other tool uses, unlike "schema_migrations"), without doubling
        // the default prefix: postbox_migrations, app_postbox_migrations.
        Migrations = prefix.EndsWith("postbox_", StringComparison.Ordinal) ? prefix + "migrations" : prefix + "postbox_migrations";
        LegacyMigrations = prefix + "schema_migrations";
    }

    public string Prefix { get; }

    public string Outbox { get; }

    public string Inbox { get; }

    /// <summary>Paused outbox topics and inbox consumers (migration 006).</summary>
    public string Pauses { get; }

    public string Migrations { get; }

    /// <summary>Where builds before the rename kept the bookkeeping; Postbox's only if its shape and content say so.</summary>
    public string LegacyMigrations { get; }

    public static bool IsValid(string? prefix) => prefix is not null && PrefixPattern().IsMatch(prefix);

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$|^$", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixPattern();
}
