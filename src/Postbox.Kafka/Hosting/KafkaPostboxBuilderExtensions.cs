using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Postbox.Hosting;
using Postbox.Kafka;
using Postbox.Transport;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the Kafka transport on the Postbox builder.</summary>
public static class KafkaPostboxBuilderExtensions
{
    /// <summary>
    /// Uses Kafka as the transport: registers <see cref="KafkaTransport"/> as the <see cref="IOutboxTransport"/> singleton.
    /// Its options are validated when the host starts, with every error listed.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">Configures the options.</param>
    public static PostboxBuilder UseKafka(this PostboxBuilder builder, Action<KafkaTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.AddOptions<KafkaTransportOptions>("Kafka").Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaTransportOptions>, KafkaTransportOptionsValidator>());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<KafkaTransport>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IOutboxTransport>(sp => sp.GetRequiredService<KafkaTransport>()));
        return builder;
    }
}
