using Microsoft.Extensions.Options;

namespace Postbox.Relay;

/// <summary>Validates <see cref="RelayOptions"/>, reporting every problem at once.</summary>
internal sealed class RelayOptionsValidator : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var errors = new List<string>();
        void Range<T>(string property, T value, T min, T max)
            where T : IComparable<T>
        {
            if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
            {
                errors.Add($"Postbox:Relay:{property} must be between {min} and {max} (was {value}).");
            }
        }

        var day = TimeSpan.FromDays(1);
        Range(nameof(options.BatchSize), options.BatchSize, 1, 10_000);
        Range(nameof(options.MaxInFlightBatches), options.MaxInFlightBatches, 1, 64);
        Range(nameof(options.PollInterval), options.PollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range(nameof(options.IdlePollInterval), options.IdlePollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range(nameof(options.LeaseDuration), options.LeaseDuration, TimeSpan.FromSeconds(1), day);
        Range(nameof(options.PublishTimeout), options.PublishTimeout, TimeSpan.FromMilliseconds(100), day);
        Range(nameof(options.MaxAttempts), options.MaxAttempts, 1, 1_000);
        Range(nameof(options.DeliveredRetention), options.DeliveredRetention, TimeSpan.Zero, TimeSpan.FromDays(365));
        Range(nameof(options.CleanupInterval), options.CleanupInterval, TimeSpan.FromMilliseconds(10), day);
        Range(nameof(options.CleanupBatchSize), options.CleanupBatchSize, 1, 100_000);
        Range(nameof(options.MonitorInterval), options.MonitorInterval, TimeSpan.FromMilliseconds(10), day);
        Range(nameof(options.HeartbeatInterval), options.HeartbeatInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(nameof(options.ShutdownTimeout), options.ShutdownTimeout, TimeSpan.Zero, TimeSpan.FromHours(1));
        if (options.LeaseDuration <= options.PublishTimeout)
        {
            errors.Add($"Postbox:Relay:LeaseDuration ({options.LeaseDuration}) must be longer than PublishTimeout ({options.PublishTimeout}), or another relay could take over messages still being published.");
        }

        if (options.RetryPolicy is null)
        {
            errors.Add("Postbox:Relay:RetryPolicy is required.");
        }

        if (!Enum.IsDefined(options.DeadKeyPolicy))
        {
            errors.Add($"Postbox:Relay:DeadKeyPolicy has an unknown value ({options.DeadKeyPolicy}).");
        }

        if (options.OwnerId is { } owner && (string.IsNullOrWhiteSpace(owner) || owner.Length > 200))
        {
            errors.Add("Postbox:Relay:OwnerId must be non-blank and at most 200 characters when set.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
