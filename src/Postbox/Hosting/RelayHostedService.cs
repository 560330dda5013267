using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Relay;

namespace Postbox.Hosting;

/// <summary>
/// Runs the relay when <see cref="RelayOptions.Enabled"/> is set.
/// </summary>
/// <remarks>
/// Options are read in <see cref="StartAsync"/>, not when the host resolves its hosted services, so that start-up
/// validation can first report the errors of every options type together. The relay stops in
/// <see cref="StoppingAsync"/>, which the host runs before any service's <c>StopAsync</c>: in-flight batches then
/// finish while this process's consumers still run, which the in-memory transport needs to settle them.
/// </remarks>
internal sealed class RelayHostedService(IServiceProvider services, IOptions<PostboxOptions> options) : IHostedLifecycleService, IDisposable
{
    private OutboxRelay? _relay;
    private Task? _stopped;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Relay.Enabled)
        {
            return Task.CompletedTask;
        }

        _relay = ActivatorUtilities.CreateInstance<OutboxRelay>(services);
        return _relay.StartAsync(cancellationToken);
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => StopRelayAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => StopRelayAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _relay?.Dispose();

    private Task StopRelayAsync(CancellationToken cancellationToken) =>
        _relay is null ? Task.CompletedTask : _stopped ??= _relay.StopAsync(cancellationToken);
}
