using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Postbox.Storage;

namespace Postbox.Health;

/// <summary>
/// <c>postbox-oldest-pending</c>: the oldest message neither delivered nor dead is younger than
/// <see cref="PostboxHealthCheckOptions.OldestPendingThreshold"/>: the same figure as the
/// <c>postbox.outbox.oldest_pending.age</c> gauge, read when the check runs.
/// </summary>
internal sealed class OldestPendingHealthCheck(IOutboxStore store, IOptions<PostboxHealthCheckOptions> options, TimeProvider timeProvider) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var settings = options.Value;
        DateTimeOffset? oldest = null;
        var failure = await HealthCheckTimeout.RunAsync(
            async ct => oldest = await store.GetOldestPendingAsync(ct).ConfigureAwait(false), settings.Timeout, timeProvider, cancellationToken)
            .ConfigureAwait(false);
        if (failure is { } f)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The age of the oldest pending message is unknown: {f.Reason}", f.Exception);
        }

        if (oldest is not { } createdAt)
        {
            return HealthCheckResult.Healthy("No message is pending.");
        }

        var age = timeProvider.GetUtcNow() - createdAt;
        var data = new Dictionary<string, object> { ["oldestPendingAgeSeconds"] = Math.Max(0, age.TotalSeconds) };
        return age > settings.OldestPendingThreshold
            ? new HealthCheckResult(context.Registration.FailureStatus,
                $"The oldest pending message was created {age:g} ago, longer than {settings.OldestPendingThreshold:g}: the relay is not getting it out.", data: data)
            : HealthCheckResult.Healthy($"The oldest pending message was created {age:g} ago.", data);
    }
}
