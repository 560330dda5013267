using Microsoft.Extensions.Options;
using Postbox.Consumers;

namespace Postbox.Kafka.Consumers;

/// <summary>Validates <see cref="KafkaConsumerOptions"/> and the consumer groups the handlers would join, listing every problem.</summary>
internal sealed class KafkaConsumerOptionsValidator(IEnumerable<HandlerRegistration> handlers) : IValidateOptions<KafkaConsumerOptions>
{
    private const string Section = "Postbox:KafkaConsumers";

    public ValidateOptionsResult Validate(string? name, KafkaConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        KafkaNames.ValidateBootstrapServers(options.BootstrapServers, $"{Section}:BootstrapServers", errors);
        if (options.ClientId is null)
        {
            errors.Add($"{Section}:ClientId must not be null.");
        }

        KafkaNames.ValidatePrefix(options.TopicPrefix, $"{Section}:TopicPrefix", errors);
        if (options.GroupIdPrefix is null)
        {
            errors.Add($"{Section}:GroupIdPrefix must not be null (use an empty string for no prefix).");
        }

        if (!Enum.IsDefined(options.AutoOffsetReset))
        {
            errors.Add($"{Section}:AutoOffsetReset '{options.AutoOffsetReset}' is unknown.");
        }

        if (options.CommitInterval < TimeSpan.FromMilliseconds(10) || options.CommitInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{Section}:CommitInterval must be between 00:00:00.0100000 and 00:01:00 (was {options.CommitInterval}).");
        }

        if (options.RevokeGracePeriod < TimeSpan.Zero || options.RevokeGracePeriod > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{Section}:RevokeGracePeriod must be between 00:00:00 and 00:05:00 (was {options.RevokeGracePeriod}).");
        }

        // The same rule as KafkaConsumerSource's: a handler's own group id, or the prefix and its consumer name. Two
        // handlers in one group on one topic split its partitions between them.
        SharedQueueCheck.Validate(handlers, h => $"{h.Options.Queue ?? options.GroupIdPrefix + h.ConsumerName}' on topic '{options.TopicPrefix + h.Topic}", "consumer group", errors);

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
