using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Postbox.Storage;

namespace Postbox.Health;

/// <summary><c>postbox-store</c>: the outbox store answers a query (the cheap, indexed oldest-pending lookup).</summary>
internal sealed class StoreHealthCheck(IOutboxStore store, IOptions<PostboxHealthCheckOptions> options, TimeProvider timeProvider) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var failure = await HealthCheckTimeout.RunAsync(store.GetOldestPendingAsync, options.Value.Timeout, timeProvider, cancellationToken)
            .ConfigureAwait(false);
        return failure is { } f
            ? new HealthCheckResult(context.Registration.FailureStatus, $"The outbox store cannot be queried: {f.Reason}", f.Exception)
            : HealthCheckResult.Healthy("The outbox store answers.");
    }
}
