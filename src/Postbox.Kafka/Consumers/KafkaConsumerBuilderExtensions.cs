using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Hosting;
using Postbox.Kafka;
using Postbox.Kafka.Consumers;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the Kafka consumer source.</summary>
public static class KafkaConsumerBuilderExtensions
{
    /// <summary>
    /// Consumes handlers' topics from Kafka: topic <c>TopicPrefix + topic</c>, one consumer group per handler
    /// (<c>GroupIdPrefix + ConsumerName</c>, or <c>HandlerOptions.Queue</c>), at most the handler's concurrency
    /// unsettled, offsets committed in order per partition only after the inbox transaction committed. Options are
    /// validated at start-up.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">
    /// The options. <c>BootstrapServers</c> and <c>TopicPrefix</c> start as the publishing transport's (<c>UseKafka</c>),
    /// so they only need setting in a process that consumes without publishing.
    /// </param>
    public static PostboxBuilder UseKafkaConsumers(this PostboxBuilder builder, Action<KafkaConsumerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<KafkaConsumerOptions>()
            .Configure<IOptions<KafkaTransportOptions>>((consumer, transport) =>
            {
                consumer.BootstrapServers = transport.Value.BootstrapServers;
                consumer.TopicPrefix = transport.Value.TopicPrefix;
            });
        if (builder.Configuration is { } configuration)
        {
            // After the copy from the transport, before the code's own configuration.
            options.Bind(configuration.GetSection("KafkaConsumers"));
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaConsumerOptions>, KafkaConsumerOptionsValidator>());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<KafkaConsumerSource>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IConsumerSource>(sp => sp.GetRequiredService<KafkaConsumerSource>()));
        return builder;
    }
}
