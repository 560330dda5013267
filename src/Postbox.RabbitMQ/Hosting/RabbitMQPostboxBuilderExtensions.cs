using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Postbox.Hosting;
using Postbox.RabbitMQ;
using Postbox.Transport;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the RabbitMQ transport on the Postbox builder.</summary>
public static class RabbitMQPostboxBuilderExtensions
{
    /// <summary>
    /// Uses RabbitMQ as the transport: registers <see cref="RabbitMQTransport"/> as the <see cref="IOutboxTransport"/>
    /// singleton. Its options are validated when the host starts, with every error listed.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">
    /// Configures the options, after the <c>Postbox:RabbitMQ</c> configuration section when Postbox was added with one.
    /// </param>
    public static PostboxBuilder UseRabbitMQ(this PostboxBuilder builder, Action<RabbitMQTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddOptions<RabbitMQTransportOptions>("RabbitMQ").Configure(configure ?? (_ => { })).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RabbitMQTransportOptions>, RabbitMQTransportOptionsValidator>());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<RabbitMQTransport>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IOutboxTransport>(sp => sp.GetRequiredService<RabbitMQTransport>()));
        return builder;
    }
}
