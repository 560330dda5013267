using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Hosting;

namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>Builds a generic host running Postbox against a test schema, as an application would.</summary>
public static class PostboxHost
{
    public static IHost Build(PostgresSchema schema, Action<PostboxBuilder>? transport = null, Action<PostboxOptions>? configure = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        var postbox = builder.Services
            .AddPostbox(o =>
            {
                // Tests react fast and never wait for the production defaults.
                o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
                o.Relay.LeaseDuration = TimeSpan.FromSeconds(10);
                o.Relay.PublishTimeout = TimeSpan.FromSeconds(5);
                // Tests count delivered rows (exactly once, first attempt, no error), so they keep the history that the
                // default (delete on confirm) does not; RelayDeliveryTests checks the default itself.
                o.Relay.DeliveredRetention = TimeSpan.FromHours(1);
                configure?.Invoke(o);
            })
            .UsePostgreSql(schema.DataSource, o => o.Schema = schema.Name);
        (transport ?? (b => b.UseInMemoryTransport()))(postbox);
        services?.Invoke(builder.Services);
        return builder.Build();
    }
}
