using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Postbox.Health;
using Postbox.Hosting;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>
/// Registers Postbox's health checks with Microsoft.Extensions.Diagnostics.HealthChecks, and names them and their tags.
/// </summary>
/// <remarks>
/// Four checks, each tagged <see cref="Tag"/>: <see cref="Store"/>, <see cref="Transport"/> and
/// <see cref="OldestPending"/> are tagged <see cref="ReadyTag"/>; <see cref="Relay"/> is tagged both
/// <see cref="LiveTag"/> and <see cref="ReadyTag"/> (a stuck loop is only cured by a restart; a database or broker
/// outage is not, so those never fail liveness). Map them with
/// <c>app.MapHealthChecks("/health/live", new() { Predicate = r => r.Tags.Contains(PostboxHealthChecks.LiveTag) })</c>
/// and the same with <see cref="ReadyTag"/>.
/// </remarks>
public static class PostboxHealthChecks
{
    /// <summary>Name of the check that the outbox store answers a query.</summary>
    public const string Store = "postbox-store";

    /// <summary>Name of the check that the transport can publish (healthy when the process has no transport).</summary>
    public const string Transport = "postbox-transport";

    /// <summary>Name of the check that the oldest pending message is younger than <see cref="PostboxHealthCheckOptions.OldestPendingThreshold"/>.</summary>
    public const string OldestPending = "postbox-oldest-pending";

    /// <summary>Name of the check that the relay loop is alive (healthy when the relay is disabled in the process).</summary>
    public const string Relay = "postbox-relay";

    /// <summary>Tag of every Postbox check.</summary>
    public const string Tag = "postbox";

    /// <summary>Tag of the checks a liveness probe should run (restart the process when they fail): the relay loop.</summary>
    public const string LiveTag = "live";

    /// <summary>Tag of the checks a readiness probe should run: all four.</summary>
    public const string ReadyTag = "ready";

    /// <summary>
    /// Adds the four Postbox checks (<see cref="Store"/>, <see cref="Transport"/>, <see cref="OldestPending"/>,
    /// <see cref="Relay"/>). A failing check reports <see cref="HealthStatus.Unhealthy"/> unless
    /// <paramref name="failureStatus"/> says otherwise. Calling it again only applies <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="configure">Configures the thresholds and timeouts.</param>
    /// <param name="failureStatus">The status a failing check reports. Default <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <returns>The health checks builder.</returns>
    public static IHealthChecksBuilder AddPostbox(this IHealthChecksBuilder builder, Action<PostboxHealthCheckOptions>? configure = null,
        HealthStatus failureStatus = HealthStatus.Unhealthy)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<PostboxHealthCheckOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return Register(builder, failureStatus);
    }

    /// <summary>
    /// Adds the Postbox health checks as <see cref="AddPostbox(IHealthChecksBuilder, Action{PostboxHealthCheckOptions}?, HealthStatus)"/>
    /// does, with their options bound from the <c>HealthChecks</c> sub-section of the Postbox configuration (when
    /// Postbox was added with a configuration section), then <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">Configures the thresholds and timeouts, after the configuration section.</param>
    /// <returns>The Postbox builder.</returns>
    public static PostboxBuilder AddHealthChecks(this PostboxBuilder builder, Action<PostboxHealthCheckOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.AddOptions<PostboxHealthCheckOptions>("HealthChecks");
        if (configure is not null)
        {
            options.Configure(configure);
        }

        Register(builder.Services.AddHealthChecks(), HealthStatus.Unhealthy);
        return builder;
    }

    private static IHealthChecksBuilder Register(IHealthChecksBuilder builder, HealthStatus failureStatus)
    {
        var services = builder.Services;
        services.AddOptions<PostboxHealthCheckOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostboxHealthCheckOptions>, PostboxHealthCheckOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        if (services.Any(static d => d.ServiceType == typeof(RelayHealthCheck)))
        {
            return builder; // Registered already: the same check twice would fail every health report.
        }

        services.AddSingleton<StoreHealthCheck>();
        services.AddSingleton<TransportHealthCheck>();
        services.AddSingleton<OldestPendingHealthCheck>();
        services.AddSingleton<RelayHealthCheck>();
        string[] ready = [Tag, ReadyTag];
        builder.Add(new HealthCheckRegistration(Store, static sp => sp.GetRequiredService<StoreHealthCheck>(), failureStatus, ready));
        builder.Add(new HealthCheckRegistration(Transport, static sp => sp.GetRequiredService<TransportHealthCheck>(), failureStatus, ready));
        builder.Add(new HealthCheckRegistration(OldestPending, static sp => sp.GetRequiredService<OldestPendingHealthCheck>(), failureStatus, ready));
        builder.Add(new HealthCheckRegistration(Relay, static sp => sp.GetRequiredService<RelayHealthCheck>(), failureStatus, [Tag, LiveTag, ReadyTag]));
        return builder;
    }
}
