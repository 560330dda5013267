using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Postbox.Relay;
using Postbox.Storage;
using Postbox.Transport;

namespace Postbox.Hosting;

/// <summary>Validates <see cref="PostboxOptions"/> and the provider registrations, listing every problem.</summary>
internal sealed class PostboxOptionsValidator(IServiceProviderIsService services) : IValidateOptions<PostboxOptions>
{
    public ValidateOptionsResult Validate(string? name, PostboxOptions options)
    {
        var errors = new List<string>();
        if (options.MaxPayloadBytes is < 1 or > 128 * 1024 * 1024)
        {
            errors.Add($"Postbox:MaxPayloadBytes must be between 1 and {128 * 1024 * 1024} (was {options.MaxPayloadBytes}).");
        }

        if (options.Relay is null)
        {
            errors.Add("Postbox:Relay is required.");
        }
        else
        {
            var relay = new RelayOptionsValidator().Validate(name, options.Relay);
            if (relay.Failed)
            {
                errors.AddRange(relay.Failures);
            }
        }

        if (!services.IsService(typeof(IOutboxWriter)) || !services.IsService(typeof(IOutboxStore)))
        {
            errors.Add("No outbox store is configured: call UsePostgreSql(...) (or another store) on the Postbox builder.");
        }

        if (options.Relay is { Enabled: true } && !services.IsService(typeof(IOutboxTransport)))
        {
            errors.Add("The relay is enabled but no transport is configured: call UseRabbitMQ(...) or UseInMemoryTransport(), or set Postbox:Relay:Enabled to false.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
