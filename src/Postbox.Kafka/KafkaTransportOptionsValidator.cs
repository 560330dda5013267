using Microsoft.Extensions.Options;

namespace Postbox.Kafka;

/// <summary>Validates <see cref="KafkaTransportOptions"/>, listing every problem.</summary>
internal sealed class KafkaTransportOptionsValidator : IValidateOptions<KafkaTransportOptions>
{
    private const string Section = "Postbox:Kafka";

    public ValidateOptionsResult Validate(string? name, KafkaTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        KafkaNames.ValidateBootstrapServers(options.BootstrapServers, $"{Section}:BootstrapServers", errors);

        if (options.ClientId is null)
        {
            errors.Add($"{Section}:ClientId must not be null.");
        }

        KafkaNames.ValidatePrefix(options.TopicPrefix, $"{Section}:TopicPrefix", errors);

        if (options.MessageTimeout < TimeSpan.FromSeconds(1) || options.MessageTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{Section}:MessageTimeout must be between 00:00:01 and 00:05:00 (was {options.MessageTimeout}).");
        }

        if (options.Linger < TimeSpan.Zero || options.Linger > TimeSpan.FromSeconds(1))
        {
            errors.Add($"{Section}:Linger must be between 00:00:00 and 00:00:01 (was {options.Linger}).");
        }

        if (options.MaxMessageBytes is < 1_000 or > 1_000_000_000)
        {
            errors.Add($"{Section}:MaxMessageBytes must be between 1000 and 1000000000 (was {options.MaxMessageBytes}).");
        }

        if (!Enum.IsDefined(options.CompressionType))
        {
            errors.Add($"{Section}:CompressionType '{options.CompressionType}' is unknown.");
        }

        if (options.UnavailableProbeInterval < TimeSpan.FromMilliseconds(100) || options.UnavailableProbeInterval > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{Section}:UnavailableProbeInterval must be between 00:00:00.1000000 and 00:05:00 (was {options.UnavailableProbeInterval}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
