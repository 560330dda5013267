using System.Text.RegularExpressions;

namespace Postbox.PostgreSql;

/// <summary>Names derived from the configured schema: quoted identifiers, the notification channel, lock keys.</summary>
internal sealed partial class PostgreSqlSchema
{
    public PostgreSqlSchema(string schema)
    {
        if (!IsValid(schema))
        {
            throw new ArgumentException($"Invalid Postbox schema name '{schema}': use lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters.", nameof(schema));
        }

        Name = schema;
        Quoted = $"\"{schema}\"";
        Outbox = $"{Quoted}.outbox";
        Pauses = $"{Quoted}.pauses";
        Channel = $"postbox.{schema}";
        ClaimLockKey = StableHash($"postbox:claim:{schema}");
        MigrationLockKey = StableHash($"postbox:migrate:{schema}");
    }

    public string Name { get; }

    public string Quoted { get; }

    public string Outbox { get; }

    /// <summary>Paused outbox topics and inbox consumers (migration 006).</summary>
    public string Pauses { get; }

    /// <summary>The LISTEN/NOTIFY channel (quote it as an identifier in LISTEN).</summary>
    public string Channel { get; }

    public long ClaimLockKey { get; }

    public long MigrationLockKey { get; }

    public static bool IsValid(string? schema) => schema is not null && SchemaPattern().IsMatch(schema);

    // FNV-1a, 64-bit: stable across processes and runtimes (string.GetHashCode is randomized per process).
    private static long StableHash(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return unchecked((long)hash);
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemaPattern();
}
