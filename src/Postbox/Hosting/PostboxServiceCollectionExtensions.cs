using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Diagnostics;
using Postbox.Hosting;
using Postbox.Producer;
using Postbox.Relay;
using Postbox.Transport;
using Postbox.Transport.InMemory;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers Postbox.</summary>
public static class PostboxServiceCollectionExtensions
{
    /// <summary>
    /// Registers the outbox (<see cref="Postbox.IOutbox"/>), the relay and Postbox diagnostics. Add a store and a
    /// transport on the returned builder. Options are validated when the host starts, with every error listed.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the options.</param>
    public static PostboxBuilder AddPostbox(this IServiceCollection services, Action<PostboxOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<PostboxOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostboxOptions>, PostboxOptionsValidator>());
        services.TryAddSingleton<IOptions<RelayOptions>>(sp => Options.Options.Create(sp.GetRequiredService<IOptions<PostboxOptions>>().Value.Relay));
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PostboxMetrics>();
        services.TryAddSingleton<RelaySignal>();
        services.TryAddSingleton(ConnectionDemand.Create);
        services.TryAddSingleton<Outbox>();
        services.TryAddSingleton<Postbox.IOutbox>(sp => sp.GetRequiredService<Outbox>());
        services.TryAddSingleton<IOutboxPreparer>(sp => sp.GetRequiredService<Outbox>());

        // Migrations first (hosted services start in registration order), then the relay.
        services.AddHostedService<MigrationHostedService>();
        services.AddHostedService<RelayHostedService>();
        return new PostboxBuilder(services);
    }

    /// <summary>Uses the in-process transport (<see cref="InMemoryTransport"/>), registered as a singleton that consumers subscribe to.</summary>
    /// <param name="builder">The Postbox builder.</param>
    public static PostboxBuilder UseInMemoryTransport(this PostboxBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<InMemoryTransport>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IOutboxTransport>(sp => sp.GetRequiredService<InMemoryTransport>()));
        return builder;
    }
}
