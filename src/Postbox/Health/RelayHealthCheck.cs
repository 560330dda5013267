using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Postbox.Hosting;
using Postbox.Relay;

namespace Postbox.Health;

/// <summary>
/// <c>postbox-relay</c>: this process's relay loop is running and checked in within
/// <see cref="PostboxHealthCheckOptions.RelayStallTimeout"/> (at least twice the poll interval). Healthy when the
/// relay is disabled in this process.
/// </summary>
internal sealed class RelayHealthCheck(RelayHeartbeat heartbeat, IOptions<PostboxOptions> postbox, IOptions<PostboxHealthCheckOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var relay = postbox.Value.Relay;
        if (!relay.Enabled)
        {
            return Task.FromResult(HealthCheckResult.Healthy("The relay is disabled in this process."));
        }

        var limit = Limit(options.Value.RelayStallTimeout, relay.LongestPollWait);
        var result = heartbeat.SinceLastBeat switch
        {
            null => new HealthCheckResult(context.Registration.FailureStatus, "The relay loop is not running."),
            { } since when since > limit => new HealthCheckResult(context.Registration.FailureStatus,
                $"The relay loop last checked in {since:g} ago, longer than {limit:g}: it is stuck."),
            { } since => HealthCheckResult.Healthy($"The relay loop checked in {since:g} ago."),
        };
        return Task.FromResult(result);
    }

    /// <summary>The stall limit applied: an idle loop checks in at least once per (idle) poll interval, so never less than twice that.</summary>
    internal static TimeSpan Limit(TimeSpan stallTimeout, TimeSpan pollInterval) =>
        stallTimeout > 2 * pollInterval ? stallTimeout : 2 * pollInterval;
}
