using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Postbox.Consumers;

/// <summary>Validates <see cref="ConsumerOptions"/>, every handler's <see cref="HandlerOptions"/> and the required services, listing every problem.</summary>
internal sealed class ConsumerOptionsValidator(IEnumerable<HandlerRegistration> handlers, IServiceProviderIsService services) : IValidateOptions<ConsumerOptions>
{
    public ValidateOptionsResult Validate(string? name, ConsumerOptions options)
    {
        var errors = new List<string>();
        void Range<T>(string property, T value, T min, T max)
            where T : IComparable<T>
        {
            if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
            {
                errors.Add($"{property} must be between {min} and {max} (was {value}).");
            }
        }

        const string Section = "Postbox:Consumers";
        var day = TimeSpan.FromDays(1);
        Range($"{Section}:ShutdownTimeout", options.ShutdownTimeout, TimeSpan.Zero, TimeSpan.FromHours(1));
        Range($"{Section}:RetryPollInterval", options.RetryPollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range($"{Section}:IdleRetryPollInterval", options.IdleRetryPollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range($"{Section}:RetryBatchSize", options.RetryBatchSize, 1, 10_000);
        Range($"{Section}:PausePollInterval", options.PausePollInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        Range($"{Section}:CleanupInterval", options.CleanupInterval, TimeSpan.FromMilliseconds(10), day);
        Range($"{Section}:CleanupBatchSize", options.CleanupBatchSize, 1, 100_000);
        Range($"{Section}:HeartbeatInterval", options.HeartbeatInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        if (options.InboxRetention is { } retention)
        {
            Range($"{Section}:InboxRetention", retention, TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650));
        }

        if (options.OwnerId is { } owner && (string.IsNullOrWhiteSpace(owner) || owner.Length > 200))
        {
            errors.Add($"{Section}:OwnerId must be non-blank and at most 200 characters when set.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handler in handlers)
        {
            var o = handler.Options;
            var label = $"Handler {handler.HandlerType.Name} on '{handler.Topic}'";
            if (string.IsNullOrWhiteSpace(handler.Topic))
            {
                errors.Add($"Handler {handler.HandlerType.Name}: the topic must not be blank.");
            }

            if (string.IsNullOrWhiteSpace(handler.ConsumerName) || handler.ConsumerName.Length > 200)
            {
                errors.Add($"{label}: ConsumerName must be non-blank and at most 200 characters.");
            }
            else if (!names.Add(handler.ConsumerName))
            {
                errors.Add($"{label}: ConsumerName '{handler.ConsumerName}' is used by another handler; it is the inbox key and must be unique.");
            }

            if (o.Queue is not null && string.IsNullOrWhiteSpace(o.Queue))
            {
                errors.Add($"{label}: Queue must not be blank when set.");
            }

            Range($"{label}: Concurrency", o.Concurrency, 1, 1000);
            Range($"{label}: Timeout", o.Timeout, TimeSpan.FromMilliseconds(10), day);
            Range($"{label}: MaxAttempts", o.MaxAttempts, 1, 1000);
            if (o.RetryPolicy is null)
            {
                errors.Add($"{label}: RetryPolicy is required.");
            }

            if (!Enum.IsDefined(o.Ordering))
            {
                errors.Add($"{label}: Ordering '{o.Ordering}' is unknown: use ByKey or Unordered.");
            }

            if (!Enum.IsDefined(o.DeadKeyPolicy))
            {
                errors.Add($"{label}: DeadKeyPolicy '{o.DeadKeyPolicy}' is unknown: use Block or Skip.");
            }
        }

        if (!services.IsService(typeof(IConsumerSource)))
        {
            errors.Add("Handlers are registered but no consumer source is configured: call UseRabbitMQConsumers(...) or UseInMemoryConsumerSource() on the Postbox builder.");
        }

        if (!services.IsService(typeof(IInboxStore)))
        {
            errors.Add("Handlers are registered but no inbox store is configured: call UsePostgreSql(...) or UseSqlite(...) on the Postbox builder (both bring the inbox).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
