using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Hosting;
using Postbox.PostgreSql;
using Postbox.PostgreSql.Consumers;

#pragma warning disable IDE0130 // Extension methods live in the DI namespace so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;
#pragma warning restore IDE0130

/// <summary>Registers the PostgreSQL inbox.</summary>
public static class PostgreSqlConsumerBuilderExtensions
{
    /// <summary>
    /// Keeps the consumers' inbox (dedupe, durable retries, dead letters) in the PostgreSQL database and schema
    /// configured by <c>UsePostgreSql(...)</c>, and exposes <see cref="IInboxAdmin"/> (inspect, replay).
    /// </summary>
    /// <param name="builder">The Postbox builder, on which <c>UsePostgreSql(...)</c> is called too.</param>
    public static PostboxBuilder UsePostgreSqlInbox(this PostboxBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(sp => new PostgreSqlInboxStore(
            sp.GetRequiredService<PostgreSqlDataSourceHolder>().DataSource,
            sp.GetRequiredService<PostgreSqlDataSourceHolder>().HandlerDataSource,
            sp.GetRequiredService<IOptions<PostgreSqlOptions>>().Value,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILogger<PostgreSqlInboxStore>>()));
        builder.Services.Replace(ServiceDescriptor.Singleton<IInboxStore>(sp => sp.GetRequiredService<PostgreSqlInboxStore>()));
        builder.Services.Replace(ServiceDescriptor.Singleton<IInboxAdmin>(sp => sp.GetRequiredService<PostgreSqlInboxStore>()));
        return builder;
    }
}
