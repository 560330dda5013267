using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Diagnostics;
using Postbox.Storage;

namespace Postbox.Hosting;

/// <summary>Applies the store's migrations at start-up when <see cref="PostboxOptions.MigrateOnStart"/> is set.</summary>
internal sealed class MigrationHostedService(IEnumerable<IPostboxMigrator> migrators, IOptions<PostboxOptions> options, ILogger<MigrationHostedService> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.MigrateOnStart)
        {
            return;
        }

        Log.MigratingOnStart(logger);
        foreach (var migrator in migrators)
        {
            await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
