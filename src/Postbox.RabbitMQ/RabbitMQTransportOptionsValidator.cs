using System.Text;
using Microsoft.Extensions.Options;

namespace Postbox.RabbitMQ;

/// <summary>Validates <see cref="RabbitMQTransportOptions"/>, listing every problem.</summary>
internal sealed class RabbitMQTransportOptionsValidator : IValidateOptions<RabbitMQTransportOptions>
{
    private const string Section = "Postbox:RabbitMQ";
    private static readonly TimeSpan MinTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(5);

    public ValidateOptionsResult Validate(string? name, RabbitMQTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add($"{Section}:ConnectionString is required (an amqp:// or amqps:// URI).");
        }
        else if (!Uri.TryCreate(options.ConnectionString, UriKind.Absolute, out var uri)
            || (uri.Scheme != "amqp" && uri.Scheme != "amqps") || string.IsNullOrEmpty(uri.Host))
        {
            // The value may carry a password: never echo it.
            errors.Add($"{Section}:ConnectionString is not a valid amqp:// or amqps:// URI with a host.");
        }

        if (string.IsNullOrWhiteSpace(options.ExchangeName))
        {
            errors.Add($"{Section}:ExchangeName must not be blank.");
        }
        else
        {
            if (options.ExchangeName.StartsWith("amq.", StringComparison.Ordinal))
            {
                errors.Add($"{Section}:ExchangeName '{options.ExchangeName}' uses the prefix 'amq.', which RabbitMQ reserves.");
            }

            if (Encoding.UTF8.GetByteCount(options.ExchangeName) > 255)
            {
                errors.Add($"{Section}:ExchangeName must be at most 255 bytes.");
            }
        }

        if (options.QueuePrefix is null)
        {
            errors.Add($"{Section}:QueuePrefix must not be null (use an empty string for no prefix).");
        }
        else if (Encoding.UTF8.GetByteCount(options.QueuePrefix) > 200)
        {
            errors.Add($"{Section}:QueuePrefix must be at most 200 bytes (queue names are limited to 255).");
        }

        if (!QueueTypes.IsKnown(options.QueueType))
        {
            errors.Add($"{Section}:QueueType '{options.QueueType}' is unknown: use 'classic' or 'quorum'.");
        }

        if (options.ClientProvidedName is null)
        {
            errors.Add($"{Section}:ClientProvidedName must not be null.");
        }

        if (options.PublishChannels is < 1 or > 64)
        {
            errors.Add($"{Section}:PublishChannels must be between 1 and 64 (was {options.PublishChannels}).");
        }

        Partitions.Validate(Section, options.Partitions, options.TopicPartitions, options.DeclareQueues ? options.QueuePrefix : null, errors);

        if (options.MaxOutstandingConfirms is < 1 or > 100_000)
        {
            errors.Add($"{Section}:MaxOutstandingConfirms must be between 1 and 100000 (was {options.MaxOutstandingConfirms}).");
        }

        if (options.ConnectionTimeout < MinTimeout || options.ConnectionTimeout > MaxTimeout)
        {
            errors.Add($"{Section}:ConnectionTimeout must be between {MinTimeout} and {MaxTimeout} (was {options.ConnectionTimeout}).");
        }

        if (options.ReconnectDelay < MinTimeout || options.ReconnectDelay > MaxTimeout)
        {
            errors.Add($"{Section}:ReconnectDelay must be between {MinTimeout} and {MaxTimeout} (was {options.ReconnectDelay}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
