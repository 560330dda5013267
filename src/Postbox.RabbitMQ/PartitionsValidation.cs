namespace Postbox.RabbitMQ;

/// <summary>The checks of the partition options, shared by the transport's and the consumers' validators.</summary>
internal static class Partitions
{
    public const int Max = 1000;

    public static void Validate(string section, int global, IDictionary<string, int>? perTopic, List<string> errors)
    {
        if (global is < 0 or > Max)
        {
            errors.Add($"{section}:Partitions must be between 0 and {Max} (was {global}).");
        }

        if (perTopic is null)
        {
            errors.Add($"{section}:TopicPartitions must not be null.");
            return;
        }

        foreach (var (topic, n) in perTopic)
        {
            if (n is < 0 or > Max)
            {
                errors.Add($"{section}:TopicPartitions:{topic} must be between 0 and {Max} (was {n}).");
            }
        }
    }
}
