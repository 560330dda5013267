using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Diagnostics;
using Postbox.Storage;

namespace Postbox.Hosting;

/// <summary>Applies the store's migrations at start-up when <see cref="PostboxOptions.MigrateOnStart"/> is set.</summary>
/// <remarks>
/// The migrators are resolved in <see cref="StartAsync"/>, not when the host resolves its hosted services: building one
/// reads the store's options, and that would report the store's option errors alone, before start-up validation lists
/// the errors of every options type together.
/// </remarks>
internal sealed class MigrationHostedService(IServiceProvider services, IOptions<PostboxOptions> options, ILogger<MigrationHostedService> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.MigrateOnStart)
        {
            return;
        }

        Log.MigratingOnStart(logger);
        foreach (var migrator in services.GetServices<IPostboxMigrator>())
        {
            await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
