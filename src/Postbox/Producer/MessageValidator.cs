namespace Postbox.Producer;

/// <summary>Rejects messages the store or a broker could not carry, naming the message and the field.</summary>
internal static class MessageValidator
{
    public const int MaxTopicLength = 255;
    public const int MaxKeyLength = 255;
    public const int MaxTypeLength = 255;
    public const int MaxHeaderNameLength = 255;

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

        foreach (var (name, value) in message.Headers)
        {
            if (string.IsNullOrEmpty(name) || name.Length > MaxHeaderNameLength)
            {
                throw new ArgumentException(Where($"Header names must be 1 to {MaxHeaderNameLength} characters."), nameof(message));
            }

            if (value is null)
            {
                throw new ArgumentException(Where($"Header '{name}' has a null value."), nameof(message));
            }
        }

        MessageLimits.Check(message, index);
    }
}
