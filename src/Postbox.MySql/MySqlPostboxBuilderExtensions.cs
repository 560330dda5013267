using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MySqlConnector;
using Postbox.Consumers;
using Postbox.Hosting;
using Postbox.MySql;
using Postbox.MySql.Consumers;
using Postbox.Storage;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the MySQL/MariaDB store.</summary>
public static class MySqlPostboxBuilderExtensions
{
    /// <summary>
    /// Stores the outbox (and the consumers' inbox) in MySQL 8.0+ or MariaDB 10.6+, in the database named by
    /// <paramref name="connectionString"/>. Enqueue with <see cref="Postbox.IOutbox"/> inside your own
    /// <see cref="MySqlTransaction"/>. MySQL has no LISTEN/NOTIFY: a relay wakes at once after an enqueue in its own
    /// process and otherwise polls (<c>RelayOptions.PollInterval</c>).
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="connectionString">MySqlConnector connection string with a database, e.g. <c>Server=127.0.0.1;User ID=app;Password=…;Database=shop</c>.</param>
    /// <param name="configure">Further options (table prefix).</param>
    public static PostboxBuilder UseMySql(this PostboxBuilder builder, string connectionString, Action<MySqlOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.AddOptions<MySqlOptions>("MySql").Configure(o =>
        {
            o.ConnectionString = connectionString;
            configure?.Invoke(o);
        }).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MySqlOptions>, MySqlOptionsValidator>());
        services.TryAddSingleton(sp => new MySqlDataSourceHolder(sp.GetRequiredService<IOptions<MySqlOptions>>().Value.ConnectionString!));

        static MySqlOptions Options(IServiceProvider sp) => sp.GetRequiredService<IOptions<MySqlOptions>>().Value;
        static MySqlDataSource Source(IServiceProvider sp) => sp.GetRequiredService<MySqlDataSourceHolder>().DataSource;

        services.Replace(ServiceDescriptor.Singleton<IOutboxWriter>(sp => new MySqlOutboxWriter(Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IOutboxStore>(sp => new MySqlOutboxStore(Source(sp), Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IOutboxMonitor>(sp => new MySqlOutboxMonitor(Source(sp), Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IPostboxMonitor>(sp =>
            new Postbox.MySql.Monitoring.MySqlPostboxMonitor(Source(sp), Options(sp), sp.GetService<TimeProvider>())));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IPostboxPauses>(sp =>
            new Postbox.MySql.Monitoring.MySqlPostboxPauses(Source(sp), Options(sp), sp.GetService<TimeProvider>())));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IServerRegistry>(sp => new Postbox.MySql.Monitoring.MySqlServerRegistry(Source(sp), Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IPostboxMigrator>(sp => new MySqlMigrator(Source(sp), Options(sp), sp.GetService<ILogger<MySqlMigrator>>())));

        // The consumers' inbox lives in the same database; registering it costs nothing when no handler is added.
        services.TryAddSingleton(sp => new MySqlInboxStore(Source(sp), Options(sp), sp.GetService<TimeProvider>(), sp.GetService<ILogger<MySqlInboxStore>>()));
        services.Replace(ServiceDescriptor.Singleton<IInboxStore>(sp => sp.GetRequiredService<MySqlInboxStore>()));
        services.Replace(ServiceDescriptor.Singleton<IInboxAdmin>(sp => sp.GetRequiredService<MySqlInboxStore>()));
        return builder;
    }
}
