using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Hosting;
using Postbox.RabbitMQ.Consumers;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the RabbitMQ consumer source.</summary>
public static class RabbitMQConsumerBuilderExtensions
{
    /// <summary>
    /// Consumes handlers' topics from RabbitMQ: durable queue <c>QueuePrefix + topic</c> bound to the durable topic
    /// exchange, manual acknowledgements after the outcome is committed, prefetch equal to each handler's concurrency,
    /// automatic reconnection. Options are validated at start-up.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">Connection and topology options; they must match the publishing transport's.</param>
    public static PostboxBuilder UseRabbitMQConsumers(this PostboxBuilder builder, Action<RabbitMQConsumerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<RabbitMQConsumerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RabbitMQConsumerOptions>, RabbitMQConsumerOptionsValidator>());
        builder.Services.TryAddSingleton<RabbitMQConsumerSource>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IConsumerSource>(sp => sp.GetRequiredService<RabbitMQConsumerSource>()));
        return builder;
    }
}
