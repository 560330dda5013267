using Microsoft.Extensions.Options;
using Postbox.Service.Data;

namespace Postbox.Service.Hosting;

/// <summary>
/// Applies the service's migrations at start-up (when <see cref="StorageSettings.MigrateOnStart"/>). Registered after
/// Postbox's own migration service, which creates the PostgreSQL schema first; the API listens only once both ran.
/// </summary>
internal sealed class ServiceMigrationHostedService(ServiceMigrator migrator, IOptions<StorageSettings> storage) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (storage.Value.MigrateOnStart)
        {
            await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
