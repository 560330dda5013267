using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Retry;

namespace Postbox.Consumers.Tests.Infrastructure;

/// <summary>An in-process host consuming one topic from RabbitMQ with <see cref="TestHandler"/>.</summary>
public static class ConsumerHost
{
    public const string Consumer = "test-consumer";

    public static async Task<IHost> StartAsync(TestDatabase database, string topic, HandlerScript script, Action<HandlerOptions>? configure = null,
        int partitions = 0, Action<IServiceCollection>? services = null)
    {
        script.Schema = database.Schema;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(script);
        builder.Services.AddPostbox(o => o.Relay.Enabled = false)
            .UsePostgreSql(TestEnvironment.PostgresConnectionString, o => { o.Schema = database.Schema; o.ListenForNotifications = false; })
            .UsePostgreSqlInbox()
            .UseRabbitMQConsumers(o => { o.ConnectionString = TestEnvironment.RabbitMQUri; o.ReconnectDelay = TimeSpan.FromMilliseconds(500); o.Partitions = partitions; })
            .ConfigureConsumers(o => { o.RetryPollInterval = TimeSpan.FromMilliseconds(50); o.HandleSignals = false; })
            .AddHandler<WorkItem, TestHandler>(topic, o =>
            {
                o.ConsumerName = Consumer;
                o.Concurrency = 8;
                o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(100));
                configure?.Invoke(o);
            });
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>Sums a counter of this host's <c>Postbox</c> meter (other hosts in the test run have their own meters).</summary>
    public sealed class CounterProbe : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _values = [];

        public CounterProbe(IHost host)
        {
            var factory = host.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name.StartsWith("postbox.consumer.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                lock (_values)
                {
                    _values[instrument.Name] = _values.GetValueOrDefault(instrument.Name) + value;
                }
            });
            _listener.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
            {
                lock (_values)
                {
                    _values[instrument.Name] = _values.GetValueOrDefault(instrument.Name) + 1;
                }
            });
            _listener.Start();
        }

        public long this[string name]
        {
            get
            {
                lock (_values)
                {
                    return _values.GetValueOrDefault("postbox.consumer." + name);
                }
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
