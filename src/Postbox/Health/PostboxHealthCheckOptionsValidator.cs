using Microsoft.Extensions.Options;

namespace Postbox.Health;

/// <summary>Validates <see cref="PostboxHealthCheckOptions"/>, reporting every problem at once.</summary>
internal sealed class PostboxHealthCheckOptionsValidator : IValidateOptions<PostboxHealthCheckOptions>
{
    public ValidateOptionsResult Validate(string? name, PostboxHealthCheckOptions options)
    {
        var errors = new List<string>();
        void Range(string property, TimeSpan value, TimeSpan min, TimeSpan max)
        {
            if (value < min || value > max)
            {
                errors.Add($"Postbox:HealthChecks:{property} must be between {min} and {max} (was {value}).");
            }
        }

        Range(nameof(options.OldestPendingThreshold), options.OldestPendingThreshold, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
        Range(nameof(options.RelayStallTimeout), options.RelayStallTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        Range(nameof(options.Timeout), options.Timeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
