using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Relay;

namespace Postbox.Hosting;

/// <summary>
/// Starts the relay when <see cref="RelayOptions.Enabled"/> is set. Options are read in <see cref="StartAsync"/>,
/// not when the host resolves its hosted services, so that start-up validation can first report the errors
/// of every options type together.
/// </summary>
internal sealed class RelayHostedService(IServiceProvider services, IOptions<PostboxOptions> options) : IHostedService, IDisposable
{
    private OutboxRelay? _relay;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Relay.Enabled)
        {
            return Task.CompletedTask;
        }

        _relay = ActivatorUtilities.CreateInstance<OutboxRelay>(services);
        return _relay.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _relay?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public void Dispose() => _relay?.Dispose();
}
