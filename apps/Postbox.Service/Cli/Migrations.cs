using Postbox.Service.Data;
using Postbox.Storage;

namespace Postbox.Service.Cli;

/// <summary>The <c>migrate</c> command: Postbox's migrations (they create the PostgreSQL schema), then the service's.</summary>
internal static class Migrations
{
    public static async Task<IReadOnlyList<string>> ApplyAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var applied = new List<string>();
        foreach (var migrator in services.GetServices<IPostboxMigrator>())
        {
            applied.AddRange((await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false)).Select(v => $"postbox {v}"));
        }

        applied.AddRange((await services.GetRequiredService<ServiceMigrator>().MigrateAsync(cancellationToken).ConfigureAwait(false)).Select(v => $"service {v}"));
        return applied;
    }
}
