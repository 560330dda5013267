namespace Postbox.Kafka;

/// <summary>Kafka's naming rules, shared by the transport, the consumer source and their validators.</summary>
internal static class KafkaNames
{
    /// <summary>Kafka's limit on a topic name.</summary>
    public const int MaxTopicLength = 249;

    /// <summary>Whether <paramref name="name"/> is a legal Kafka topic name: 1 to 249 of <c>[A-Za-z0-9._-]</c>, not <c>.</c> or <c>..</c>.</summary>
    public static bool IsValidTopic(string name) =>
        name.Length is > 0 and <= MaxTopicLength && name is not "." and not ".." && name.All(IsLegal);

    public static bool IsLegal(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';

    public static void ValidatePrefix(string? prefix, string path, List<string> errors)
    {
        if (prefix is null)
        {
            errors.Add($"{path} must not be null (use an empty string for no prefix).");
        }
        else if (prefix.Length > 200 || !prefix.All(IsLegal))
        {
            errors.Add($"{path} '{prefix}' must be at most 200 characters of [A-Za-z0-9._-] (Kafka topic names allow no others).");
        }
    }

    public static void ValidateBootstrapServers(string? servers, string path, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(servers))
        {
            errors.Add($"{path} is required (a comma-separated host:port list).");
            return;
        }

        foreach (var entry in servers.Split(',', StringSplitOptions.TrimEntries))
        {
            // Accepts host:port, [ipv6]:port and an optional scheme such as PLAINTEXT:// or SSL://.
            var address = entry.Contains("://", StringComparison.Ordinal) ? entry[(entry.IndexOf("://", StringComparison.Ordinal) + 3)..] : entry;
            var colon = address.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                errors.Add($"{path} entry '{entry}' is not host:port with a port from 1 to 65535.");
            }
        }
    }
}
