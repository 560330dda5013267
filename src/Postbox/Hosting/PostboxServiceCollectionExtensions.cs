using Microsoft.Extensions.Configuration;
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
    public static PostboxBuilder AddPostbox(this IServiceCollection services, Action<PostboxOptions>? configure = null) =>
        Register(services, configuration: null, configure);

    /// <summary>
    /// Registers Postbox as <see cref="AddPostbox(IServiceCollection, Action{PostboxOptions}?)"/> does, binding
    /// <see cref="PostboxOptions"/> (with <c>Relay</c>) from <paramref name="configuration"/>, and every provider's
    /// options from its sub-section when the provider is added: <c>PostgreSql</c>, <c>Sqlite</c>, <c>MySql</c>,
    /// <c>RabbitMQ</c>, <c>RabbitMQConsumers</c>, <c>Kafka</c>, <c>KafkaConsumers</c>, <c>Consumers</c>,
    /// <c>HealthChecks</c>. Configuration is applied first, then <paramref name="configure"/> and the providers'
    /// <c>configure</c> callbacks, so code wins. A value that cannot be converted (<c>"BatchSize": "many"</c>) or is out
    /// of range fails the host's start with the key's full path in the message.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The <c>Postbox</c> section, e.g. <c>builder.Configuration.GetSection("Postbox")</c>.</param>
    /// <param name="configure">Further configuration in code, applied after the section.</param>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configuration"/> is null.</exception>
    public static PostboxBuilder AddPostbox(this IServiceCollection services, IConfiguration configuration, Action<PostboxOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Register(services, configuration, configure);
    }

    private static PostboxBuilder Register(IServiceCollection services, IConfiguration? configuration, Action<PostboxOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<PostboxOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration);
        }

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
        services.TryAddSingleton<RelayHeartbeat>();
        services.TryAddSingleton(ConnectionDemand.Create);
        services.TryAddSingleton<Outbox>();
        services.TryAddSingleton<Postbox.IOutbox>(sp => sp.GetRequiredService<Outbox>());
        services.TryAddSingleton<IOutboxPreparer>(sp => sp.GetRequiredService<Outbox>());

        // Migrations first (hosted services start in registration order), then the relay.
        services.AddHostedService<MigrationHostedService>();
        services.AddHostedService<RelayHostedService>();
        return new PostboxBuilder(services, configuration);
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
