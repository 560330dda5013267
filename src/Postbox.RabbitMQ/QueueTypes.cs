namespace Postbox.RabbitMQ;

/// <summary>Values of <see cref="RabbitMQTransportOptions.QueueType"/> (sent as <c>x-queue-type</c>).</summary>
internal static class QueueTypes
{
    public const string Classic = "classic";
    public const string Quorum = "quorum";

    public static bool IsKnown(string? value) =>
        string.Equals(value, Classic, StringComparison.OrdinalIgnoreCase) || string.Equals(value, Quorum, StringComparison.OrdinalIgnoreCase);

    /// <summary>The canonical lower-case spelling RabbitMQ expects.</summary>
    public static string Normalize(string value) =>
        string.Equals(value, Quorum, StringComparison.OrdinalIgnoreCase) ? Quorum : Classic;
}
