using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Json;
using Postbox.Service.Customers;
using Postbox.Service.Http;
using Postbox.Service.Mail;
using Postbox.Service.Users;

namespace Postbox.Service.Hosting;

/// <summary>Builds the host of one process: a web application for <c>api</c>, <c>dashboard</c> and <c>all</c>, a plain host otherwise.</summary>
internal static class ServiceApp
{
    /// <summary>Builds the host; throws <see cref="ServiceConfigurationException"/> listing every configuration problem.</summary>
    /// <param name="roles">What the process runs.</param>
    /// <param name="args">Configuration arguments (<c>--Section:Key=value</c>).</param>
    /// <param name="overrides">Values from the command line's named options; they win over every other source.</param>
    /// <param name="output">Where the start-up banner goes (<see langword="null"/>: none).</param>
    public static IHost Build(ServiceRoles roles, string[] args, IReadOnlyDictionary<string, string?> overrides, TextWriter? output)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        // appsettings.json ships next to the binary; data/ (SQLite file, .eml files) stays relative to the current directory.
        if ((roles & (ServiceRoles.Api | ServiceRoles.Dashboard)) == 0)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
            builder.Configuration.AddInMemoryCollection(overrides);
            var settings = Configure(builder, roles);
            var host = builder.Build();
            host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => Announce(host, settings, [], output));
            return host;
        }

        return BuildWeb(roles, args, overrides, output);
    }

    private static WebApplication BuildWeb(ServiceRoles roles, string[] args, IReadOnlyDictionary<string, string?> overrides, TextWriter? output)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(overrides);
        var settings = Configure(builder, roles);
        var dashboardSettings = builder.Configuration.GetSection("Dashboard").Get<DashboardSettings>() ?? new();
        DashboardAccess? dashboard = null;
        if ((roles & ServiceRoles.Dashboard) != 0)
        {
            if (dashboardSettings.Validate() is { Count: > 0 } errors)
            {
                throw new ServiceConfigurationException(errors);
            }

            dashboard = DashboardAccess.From(dashboardSettings);
            builder.Services.AddSingleton(dashboard);
            builder.Services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, DashboardBasicAuthentication>(DashboardAccess.Scheme, null);
            builder.Services.AddAuthorization(o => o.AddPolicy(DashboardAccess.Policy, p => p.AddAuthenticationSchemes(DashboardAccess.Scheme).RequireAuthenticatedUser()));
            builder.Services.AddPostboxDashboard(o => o.AuthorizationPolicy = DashboardAccess.Policy);
        }

        if (roles == ServiceRoles.Dashboard && !UrlsGivenExplicitly(builder.Configuration))
        {
            // Alone, the dashboard takes its own port so it can run next to the API's. The top-level "Urls" of
            // appsettings.json is the API's address: only --urls, the environment or a user's own config file override this.
            builder.WebHost.UseUrls(dashboardSettings.Urls);
        }

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = settings.Api.MaxRequestBytes);
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton<Http.DatabaseOutage>();
        builder.Services.AddOpenApi();
        builder.Services.Configure<JsonOptions>(o => o.SerializerOptions.WriteIndented = true);
        // Malformed input is answered (400/413/415), never thrown, even if ASPNETCORE_ENVIRONMENT says Development.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<Http.ApiFaultMiddleware>();
        if (dashboard is not null)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        if ((roles & ServiceRoles.Api) != 0)
        {
            app.MapOpenApi();
            app.UseSwaggerUI(o =>
            {
                o.SwaggerEndpoint("/openapi/v1.json", "Postbox service");
                o.RoutePrefix = "swagger";
                o.DocumentTitle = "Postbox service API";
            });
            app.MapMailEndpoints();
            app.MapUserEndpoints();
            app.MapCustomerEndpoints();
            app.MapGet("/", () => Results.Redirect("/swagger")).ExcludeFromDescription();
        }

        if ((roles & ServiceRoles.Dashboard) != 0)
        {
            // Stale pooled connections after a database restart are retried, a database that is down is a 503 (the dashboard's
            // statements fail at their first round trip, before any change, so running a request again is safe).
            app.MapPostboxDashboard("/dashboard").UsesDatabase();
            app.MapMailbox("/dashboard/mailbox", settings.Mail, DashboardAccess.Policy);
            if ((roles & ServiceRoles.Api) == 0)
            {
                app.MapGet("/", () => Results.Redirect("/dashboard/")).ExcludeFromDescription();
            }
        }

        app.MapHealthEndpoints();
        app.Lifetime.ApplicationStarted.Register(() =>
            Announce(app, settings, app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [], output, dashboard));
        return app;
    }

    /// <summary>Whether "urls" comes from anything but the shipped appsettings.json (command line, environment, overrides).</summary>
    private static bool UrlsGivenExplicitly(IConfigurationRoot configuration) =>
        configuration.Providers.Reverse().FirstOrDefault(p => p.TryGet("urls", out var value) && !string.IsNullOrEmpty(value)) is { } source
        && source is not Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider;

    private static ServiceConfiguration Configure(IHostApplicationBuilder builder, ServiceRoles roles)
    {
        var settings = ServiceConfiguration.Read(builder.Configuration, roles);
        var errors = settings.Validate();
        if (errors.Count > 0)
        {
            throw new ServiceConfigurationException(errors);
        }

        builder.Services.AddPostboxService(builder.Configuration, settings);
        builder.AddTelemetry();
        return settings;
    }

    private static void Announce(IHost host, ServiceConfiguration settings, ICollection<string> addresses, TextWriter? output, DashboardAccess? dashboard = null)
    {
        ServiceLog.Started(host.Services.GetRequiredService<ILogger<ServiceConfiguration>>(), settings.Roles, settings.Storage.Provider,
            settings.Transport.Provider, settings.Mail.Delivery);
        if (output is not null)
        {
            StartupBanner.Write(output, settings, addresses, dashboard);
        }
    }
}
