using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Postbox.Hosting;
using Postbox.Consumers;
using Postbox.Sqlite;
using Postbox.Sqlite.Consumers;
using Postbox.Storage;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the SQLite store.</summary>
public static class SqlitePostboxBuilderExtensions
{
    /// <summary>
    /// Stores the outbox (and the consumers' inbox) in SQLite. Relays wake in-process after a local enqueue and otherwise poll; SQLite
    /// has no cross-process notification, so keep producers and the relay in one process or accept the poll interval.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="connectionString">Microsoft.Data.Sqlite connection string, e.g. <c>Data Source=postbox.db</c>.</param>
    /// <param name="configure">Further options.</param>
    public static PostboxBuilder UseSqlite(this PostboxBuilder builder, string connectionString, Action<SqliteOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.AddOptions<SqliteOptions>("Sqlite").Configure(o =>
        {
            o.ConnectionString = connectionString;
            configure?.Invoke(o);
        }).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SqliteOptions>, SqliteOptionsValidator>());

        static SqliteOptions Options(IServiceProvider sp) => sp.GetRequiredService<IOptions<SqliteOptions>>().Value;
        services.Replace(ServiceDescriptor.Singleton<IOutboxWriter>(sp => new SqliteOutboxWriter(Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IOutboxStore>(sp => new SqliteOutboxStore(Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IOutboxMonitor>(sp => new SqliteOutboxMonitor(Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IPostboxMonitor>(sp =>
            new Postbox.Sqlite.Monitoring.SqlitePostboxMonitor(Options(sp), sp.GetService<TimeProvider>())));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IPostboxPauses>(sp =>
            new Postbox.Sqlite.Monitoring.SqlitePostboxPauses(Options(sp), sp.GetService<TimeProvider>())));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IServerRegistry>(sp => new Postbox.Sqlite.Monitoring.SqliteServerRegistry(Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IPostboxMigrator>(sp => new SqliteMigrator(Options(sp))));

        // The consumers' inbox lives in the same database file.
        services.TryAddSingleton(sp => new SqliteInboxStore(Options(sp), sp.GetService<TimeProvider>()));
        services.Replace(ServiceDescriptor.Singleton<IInboxStore>(sp => sp.GetRequiredService<SqliteInboxStore>()));
        services.Replace(ServiceDescriptor.Singleton<IInboxAdmin>(sp => sp.GetRequiredService<SqliteInboxStore>()));
        return builder;
    }
}
