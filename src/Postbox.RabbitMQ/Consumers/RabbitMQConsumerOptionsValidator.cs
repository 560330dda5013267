using System.Text;
using Microsoft.Extensions.Options;
using Postbox.Consumers;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>Validates <see cref="RabbitMQConsumerOptions"/> and the queues the handlers would consume, listing every problem.</summary>
internal sealed class RabbitMQConsumerOptionsValidator(IEnumerable<HandlerRegistration> handlers) : IValidateOptions<RabbitMQConsumerOptions>
{
    private const string Section = "Postbox:RabbitMQConsumers";
    private static readonly TimeSpan MinTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(5);

    public ValidateOptionsResult Validate(string? name, RabbitMQConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString)
            || !Uri.TryCreate(options.ConnectionString, UriKind.Absolute, out var uri)
            || (uri.Scheme != "amqp" && uri.Scheme != "amqps") || string.IsNullOrEmpty(uri.Host))
        {
            // Never echo the value: it may carry a password.
            errors.Add($"{Section}:ConnectionString must be an amqp:// or amqps:// URI with a host.");
        }

        if (string.IsNullOrWhiteSpace(options.ExchangeName) || options.ExchangeName.StartsWith("amq.", StringComparison.Ordinal)
            || Encoding.UTF8.GetByteCount(options.ExchangeName) > 255)
        {
            errors.Add($"{Section}:ExchangeName must be non-blank, at most 255 bytes, and not start with the reserved 'amq.'.");
        }

        if (options.QueuePrefix is null || Encoding.UTF8.GetByteCount(options.QueuePrefix) > 200)
        {
            errors.Add($"{Section}:QueuePrefix must not be null and at most 200 bytes.");
        }

        if (!string.Equals(options.QueueType, "classic", StringComparison.Ordinal) && !string.Equals(options.QueueType, "quorum", StringComparison.Ordinal))
        {
            errors.Add($"{Section}:QueueType '{options.QueueType}' is unknown: use 'classic' or 'quorum'.");
        }

        Partitions.Validate(Section, options.Partitions, options.TopicPartitions, options.QueuePrefix, errors);

        if (options.ClientProvidedName is null)
        {
            errors.Add($"{Section}:ClientProvidedName must not be null.");
        }

        if (options.ConnectionTimeout < MinTimeout || options.ConnectionTimeout > MaxTimeout)
        {
            errors.Add($"{Section}:ConnectionTimeout must be between {MinTimeout} and {MaxTimeout} (was {options.ConnectionTimeout}).");
        }

        if (options.ReconnectDelay < MinTimeout || options.ReconnectDelay > MaxTimeout)
        {
            errors.Add($"{Section}:ReconnectDelay must be between {MinTimeout} and {MaxTimeout} (was {options.ReconnectDelay}).");
        }

        if (options.RebalanceInterval != TimeSpan.Zero && (options.RebalanceInterval < MinTimeout || options.RebalanceInterval > TimeSpan.FromMinutes(10)))
        {
            errors.Add($"{Section}:RebalanceInterval must be 0 (off) or between {MinTimeout} and {TimeSpan.FromMinutes(10)} (was {options.RebalanceInterval}).");
        }

        if (options.QueuePrefix is not null)
        {
            // The same rule as RabbitMQConsumerSource's: a handler's own queue, or the topic's.
            SharedQueueCheck.Validate(handlers, h => h.Options.Queue ?? options.QueuePrefix + h.Topic, "queue", errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
