namespace Postbox.RabbitMQ;

/// <summary>The checks of the partition options, shared by the transport's and the consumers' validators.</summary>
internal static class Partitions
{
    public const int Max = 1000;

    /// <summary>
    /// Checks the counts, and that every partition queue of a topic named in <paramref name="perTopic"/> fits AMQP's
    /// 255-byte limit on routing keys and queue names (<c>{prefix}{topic}.p{n}</c>), so a configuration that could only
    /// produce unpublishable messages fails at start rather than dead-lettering them one by one.
    /// </summary>
    public static void Validate(string section, int global, IDictionary<string, int>? perTopic, string? queuePrefix, List<string> errors)
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
            else if (n > 0 && System.Text.Encoding.UTF8.GetByteCount((queuePrefix ?? string.Empty) + Partitioning.PartitionName(topic, n - 1)) > 255)
            {
                errors.Add($"{section}:TopicPartitions:{topic}: the partition queue '{queuePrefix}{Partitioning.PartitionName(topic, n - 1)}' exceeds " +
                    "AMQP's 255-byte limit on queue names and routing keys; use a shorter topic or prefix.");
            }
        }
    }
}
