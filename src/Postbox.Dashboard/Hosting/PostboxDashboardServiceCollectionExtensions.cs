using Microsoft.Extensions.DependencyInjection.Extensions;
using Postbox.Dashboard;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Postbox dashboard's services.</summary>
public static class PostboxDashboardServiceCollectionExtensions
{
    /// <summary>
    /// Adds the dashboard's options and ASP.NET Core antiforgery. The store's <see cref="Postbox.Monitoring.IPostboxMonitor"/> comes
    /// from its provider (<c>UsePostgreSql</c>, <c>UseSqlite</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options; choose <see cref="PostboxDashboardOptions.AuthorizationPolicy"/> here.</param>
    public static IServiceCollection AddPostboxDashboard(this IServiceCollection services, Action<PostboxDashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<PostboxDashboardOptions>().Configure(configure ?? (_ => { }));
        services.AddAntiforgery();
        services.TryAddSingleton<DashboardAssets>();
        return services;
    }
}
