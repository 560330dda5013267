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
    /// exchange (and, with <see cref="RabbitMQConsumerOptions.Partitions"/>, its single-active-consumer partition queues),
    /// manual acknowledgements after the outcome is committed, prefetch from each handler's concurrency, automatic
    /// reconnection. Options are validated at start-up.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">
    /// Connection and topology options. They start as the publishing transport's (<c>UseRabbitMQ</c>), so they
    /// only need setting in a process that consumes without publishing.
    /// </param>
    public static PostboxBuilder UseRabbitMQConsumers(this PostboxBuilder builder, Action<RabbitMQConsumerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Start from the publishing transport's connection and topology (defaults when UseRabbitMQ is not
        // called), so both sides declare the same exchange and queues unless told otherwise.
        var options = builder.Services.AddOptions<RabbitMQConsumerOptions>()
            .Configure<IOptions<Postbox.RabbitMQ.RabbitMQTransportOptions>>((consumer, transport) =>
            {
                consumer.ConnectionString = transport.Value.ConnectionString;
                consumer.ExchangeName = transport.Value.ExchangeName;
                consumer.QueuePrefix = transport.Value.QueuePrefix;
                consumer.QueueType = transport.Value.QueueType;
                consumer.Partitions = transport.Value.Partitions;
                foreach (var (topic, partitions) in transport.Value.TopicPartitions)
                {
                    consumer.TopicPartitions[topic] = partitions;
                }
            });
        if (builder.Configuration is { } configuration)
        {
            // After the copy from the transport, before the code's own configuration.
            options.Bind(configuration.GetSection("RabbitMQConsumers"));
        }

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
