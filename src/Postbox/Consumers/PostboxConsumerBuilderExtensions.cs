using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Hosting;
using Postbox.Transport.InMemory;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers message handlers and the consumer runtime.</summary>
public static class PostboxConsumerBuilderExtensions
{
    /// <summary>
    /// Registers <typeparamref name="THandler"/> (scoped: one instance per message) for the messages of
    /// <paramref name="topic"/>, and the consumer runtime that runs it. Options are validated when the host starts.
    /// </summary>
    /// <typeparam name="TMessage">The payload type (JSON).</typeparam>
    /// <typeparam name="THandler">The handler.</typeparam>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="topic">The topic to consume.</param>
    /// <param name="configure">Concurrency, timeout, retries, consumer name.</param>
    public static PostboxBuilder AddHandler<TMessage, THandler>(this PostboxBuilder builder, string topic, Action<HandlerOptions>? configure = null)
        where THandler : class, IMessageHandler<TMessage>
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new HandlerOptions();
        configure?.Invoke(options);
        builder.Services.TryAddScoped<THandler>();
        builder.Services.AddSingleton(HandlerRegistration.Create<TMessage, THandler>(topic ?? string.Empty, options));
        AddRuntime(builder);
        return builder;
    }

    /// <summary>
    /// Configures the consumer runtime (shutdown timeout, retry polling, inbox retention, signals), after the
    /// <c>Consumers</c> sub-section of the Postbox configuration when there is one.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">Configures the options.</param>
    public static PostboxBuilder ConfigureConsumers(this PostboxBuilder builder, Action<ConsumerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        BindConfiguration(builder);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Consumes from the in-process transport (call <c>UseInMemoryTransport()</c> too). For tests and single-process
    /// deployments.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    public static PostboxBuilder UseInMemoryConsumerSource(this PostboxBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<InMemoryTransport>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IConsumerSource>(sp => new InMemoryConsumerSource(sp.GetRequiredService<InMemoryTransport>())));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ConsumerOptions>, InMemoryConsumerSourceValidator>());
        return builder;
    }

    // Once, and before any ConfigureConsumers callback, so code wins over configuration whatever the call order.
    private static void BindConfiguration(PostboxBuilder builder)
    {
        if (builder.Configuration is null || builder.Services.Any(static d => d.ServiceType == typeof(ConsumerConfigurationBound)))
        {
            return;
        }

        builder.Services.AddSingleton(new ConsumerConfigurationBound());
        builder.AddOptions<ConsumerOptions>("Consumers");
    }

    private static void AddRuntime(PostboxBuilder builder)
    {
        BindConfiguration(builder);
        var services = builder.Services;
        if (services.Any(static d => d.ServiceType == typeof(ConsumerRuntime)))
        {
            return;
        }

        services.AddOptions<ConsumerOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ConsumerOptions>, ConsumerOptionsValidator>());
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ConsumerMetrics>();
        services.AddSingleton<ConsumerRuntime>();
        services.AddSingleton<IConsumerControl>(static sp => sp.GetRequiredService<ConsumerRuntime>());
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<ConsumerRuntime>());
    }

    private sealed class ConsumerConfigurationBound;
}
