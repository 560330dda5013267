using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Postbox.Transport;

namespace Postbox.Health;

/// <summary>
/// <c>postbox-transport</c>: the transport can publish now (<see cref="IOutboxTransport.ProbeAsync"/>: connected and
/// not blocked, reconnecting at once if it has to). Healthy when this process has no transport (a producer-only API).
/// </summary>
internal sealed class TransportHealthCheck(IServiceProvider services, IOptions<PostboxHealthCheckOptions> options, TimeProvider timeProvider) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (services.GetService<IOutboxTransport>() is not { } transport)
        {
            return HealthCheckResult.Healthy("No transport in this process.");
        }

        var failure = await HealthCheckTimeout.RunAsync(ct => transport.ProbeAsync(ct).AsTask(), options.Value.Timeout, timeProvider, cancellationToken)
            .ConfigureAwait(false);
        return failure is { } f
            ? new HealthCheckResult(context.Registration.FailureStatus, $"The transport cannot publish: {f.Reason}", f.Exception)
            : HealthCheckResult.Healthy("The transport is connected.");
    }
}
