namespace Postbox.Producer;

/// <summary>
/// Rejects messages the store or a broker could not carry, naming the message and the field — before any statement runs,
/// because a value the database refuses aborts the caller's whole transaction. The rules: <c>docs/guarantees.md</c>.
/// </summary>
internal static class MessageValidator
{
    public const int MaxTopicLength = 255;
    public const int MaxKeyLength = 255;
    public const int MaxTypeLength = 255;
    public const int MaxHeaderNameLength = 255;

    /// <summary>
    /// The first <see cref="OutboxMessage.AvailableAt"/> refused: a day before the end of the range every store holds
    /// (DateTimeOffset, MySQL DATETIME), so no store or date arithmetic is ever at its edge for a message that would
    /// never be published anyway.
    /// </summary>
    public static readonly DateTimeOffset MaxAvailableAt = new(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

    public static void Validate(OutboxMessage message, int index, int maxPayloadBytes)
    {
        string Where(string field) => $"Message #{index} ({message.Id}): {field}";

        if (message.Id == Guid.Empty)
        {
            throw new ArgumentException(Where("Id must not be empty."), nameof(message));
        }

        if (message.Topic.Length > MaxTopicLength)
        {
            throw new ArgumentException(Where($"Topic is longer than {MaxTopicLength} characters."), nameof(message));
        }

        if (message.Key is { } key && (key.Length == 0 || key.Length > MaxKeyLength))
        {
            throw new ArgumentException(Where($"Key must be null or 1 to {MaxKeyLength} characters."), nameof(message));
        }

        if (message.Type is { Length: > MaxTypeLength })
        {
            throw new ArgumentException(Where($"Type is longer than {MaxTypeLength} characters."), nameof(message));
        }

        if (message.Payload.Length > maxPayloadBytes)
        {
            throw new ArgumentException(Where($"Payload is {message.Payload.Length} bytes; the limit is {maxPayloadBytes} (PostboxOptions.MaxPayloadBytes)."), nameof(message));
        }

        if (message.MaxAttempts is < 1)
        {
            throw new ArgumentException(Where("MaxAttempts must be at least 1 when set."), nameof(message));
        }

        if (MessageText.Problem(message.Topic, TextRule.Name) is { } topicProblem)
        {
            throw new ArgumentException(Where($"Topic {topicProblem}."), nameof(message));
        }

        if (message.Key is { } keyText && MessageText.Problem(keyText, TextRule.Key) is { } keyProblem)
        {
            throw new ArgumentException(Where($"Key {keyProblem}."), nameof(message));
        }

        if (message.Type is { Length: 0 })
        {
            throw new ArgumentException(Where($"Type must be null or 1 to {MaxTypeLength} characters."), nameof(message));
        }

        if (message.Type is { } typeText && MessageText.Problem(typeText, TextRule.Name) is { } typeProblem)
        {
            throw new ArgumentException(Where($"Type {typeProblem}."), nameof(message));
        }

        if (message.AvailableAt >= MaxAvailableAt)
        {
            throw new ArgumentException(Where($"AvailableAt {message.AvailableAt.GetValueOrDefault():O} is not before {MaxAvailableAt:O}: such a message would never be published."), nameof(message));
        }

        foreach (var (name, value) in message.Headers)
        {
            if (string.IsNullOrEmpty(name) || name.Length > MaxHeaderNameLength)
            {
                throw new ArgumentException(Where($"Header names must be 1 to {MaxHeaderNameLength} characters."), nameof(message));
            }

            if (MessageText.Problem(name, TextRule.Name) is { } nameProblem)
            {
                throw new ArgumentException(Where($"Header name '{MessageText.Printable(name)}' {nameProblem}."), nameof(message));
            }

            if (value is not null && MessageText.Problem(value, TextRule.Value) is { } valueProblem)
            {
                throw new ArgumentException(Where($"Header '{MessageText.Printable(name)}' value {valueProblem}."), nameof(message));
            }

            if (value is null)
            {
                throw new ArgumentException(Where($"Header '{name}' has a null value."), nameof(message));
            }
        }

        MessageLimits.Check(message, index);
    }
}
