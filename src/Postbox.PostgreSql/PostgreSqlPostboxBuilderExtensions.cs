using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Postbox.Hosting;
using Postbox.PostgreSql;
using Postbox.Producer;
using Postbox.Storage;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the PostgreSQL store.</summary>
public static class PostgreSqlPostboxBuilderExtensions
{
    /// <summary>Stores the outbox (and the consumers' inbox) in PostgreSQL, connecting with <paramref name="connectionString"/>.</summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="connectionString">Npgsql connection string.</param>
    /// <param name="configure">Further options (schema, notifications).</param>
    public static PostboxBuilder UsePostgreSql(this PostboxBuilder builder, string connectionString, Action<PostgreSqlOptions>? configure = null) =>
        builder.UsePostgreSql(o =>
        {
            o.ConnectionString = connectionString;
            configure?.Invoke(o);
        });

    /// <summary>
    /// Stores the outbox in PostgreSQL; the connection string comes from the <c>Postbox:PostgreSql</c> configuration
    /// section (see <c>AddPostbox(configuration)</c>) or from <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="configure">Options, including <see cref="PostgreSqlOptions.ConnectionString"/>; applied after the configuration section.</param>
    public static PostboxBuilder UsePostgreSql(this PostboxBuilder builder, Action<PostgreSqlOptions>? configure = null) =>
        Register(builder, configure ?? (_ => { }), dataSource: null);

    /// <summary>Stores the outbox in PostgreSQL through an existing <paramref name="dataSource"/> (not disposed by Postbox).</summary>
    /// <param name="builder">The Postbox builder.</param>
    /// <param name="dataSource">The data source the application already uses.</param>
    /// <param name="configure">Further options (schema, notifications).</param>
    public static PostboxBuilder UsePostgreSql(this PostboxBuilder builder, NpgsqlDataSource dataSource, Action<PostgreSqlOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return Register(builder, configure ?? (_ => { }), dataSource);
    }

    private static PostboxBuilder Register(PostboxBuilder builder, Action<PostgreSqlOptions> configure, NpgsqlDataSource? dataSource)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        builder.AddOptions<PostgreSqlOptions>("PostgreSql").Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlOptions>, PostgreSqlOptionsValidator>(
            sp => new PostgreSqlOptionsValidator(dataSource, sp)));
        services.TryAddSingleton(sp => new PostgreSqlDataSourceHolder(
            dataSource, () => sp.GetRequiredService<IOptions<PostgreSqlOptions>>().Value.ConnectionString!));

        static PostgreSqlOptions Options(IServiceProvider sp) => sp.GetRequiredService<IOptions<PostgreSqlOptions>>().Value;
        static NpgsqlDataSource Source(IServiceProvider sp) => sp.GetRequiredService<PostgreSqlDataSourceHolder>().DataSource;

        services.TryAddSingleton(sp => new PostgreSqlOutboxWriter(Options(sp)));
        services.Replace(ServiceDescriptor.Singleton<IOutboxWriter>(sp => sp.GetRequiredService<PostgreSqlOutboxWriter>()));
        // A factory: the constructor is internal (its parameters are), so the container cannot pick it by itself.
        services.TryAddSingleton(sp => new PostgreSqlOutbox(sp.GetRequiredService<IOutboxPreparer>(), sp.GetRequiredService<PostgreSqlOutboxWriter>()));
        services.Replace(ServiceDescriptor.Singleton<IOutboxStore>(sp => new PostgreSqlOutboxStore(Source(sp), Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IOutboxMonitor>(sp => new PostgreSqlOutboxMonitor(Source(sp), Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IPostboxMonitor>(sp =>
            new Postbox.PostgreSql.Monitoring.PostgreSqlPostboxMonitor(Source(sp), Options(sp), sp.GetService<TimeProvider>())));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IPostboxPauses>(sp =>
            new Postbox.PostgreSql.Monitoring.PostgreSqlPostboxPauses(Source(sp), Options(sp), sp.GetService<TimeProvider>())));
        services.Replace(ServiceDescriptor.Singleton<Postbox.Monitoring.IServerRegistry>(sp =>
            new Postbox.PostgreSql.Monitoring.PostgreSqlServerRegistry(Source(sp), Options(sp))));
        services.Replace(ServiceDescriptor.Singleton<IPostboxMigrator>(sp =>
            new PostgreSqlMigrator(Source(sp), Options(sp), sp.GetService<ILogger<PostgreSqlMigrator>>())));
        if (!services.Any(d => d.ServiceType == typeof(IRelayWakeupSource)))
        {
            services.AddSingleton<IRelayWakeupSource>(sp => Options(sp).ListenForNotifications
                ? new PostgreSqlWakeupSource(Source(sp), Options(sp), sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<PostgreSqlWakeupSource>>())
                : new NoWakeups());
        }

        // The consumers' inbox lives in the same database and schema; registering it costs nothing when no
        // handler is added.
        return builder.UsePostgreSqlInbox();
    }

    private sealed class NoWakeups : IRelayWakeupSource
    {
        public Task ListenAsync(Action wake, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
