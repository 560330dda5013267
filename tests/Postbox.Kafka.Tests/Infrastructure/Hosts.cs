using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Postbox.Consumers;
using Postbox.Kafka.Consumers;

namespace Postbox.Kafka.Tests.Infrastructure;

public sealed record WorkItem(string Body);

/// <summary>What the test handler does: counts attempts, optionally waits for a message's body.</summary>
public sealed class HandlerScript
{
    public string Schema { get; set; } = "";

    public ConcurrentDictionary<Guid, int> Attempts { get; } = new();

    /// <summary>Bodies whose handling waits until <see cref="Release"/> completes.</summary>
    public Func<string, bool> Holds { get; set; } = _ => false;

    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<string> Handled { get; } = new();

    /// <summary>Time each handling takes, so a worker cannot drain a topic before another joins.</summary>
    public TimeSpan Delay { get; set; }
}

/// <summary>Writes an effect row through the inbox transaction.</summary>
public sealed class EffectHandler(HandlerScript script) : IMessageHandler<WorkItem>
{
    public async Task HandleAsync(WorkItem message, MessageContext context, CancellationToken cancellationToken)
    {
        script.Attempts.AddOrUpdate(context.MessageId, 1, static (_, n) => n + 1);
        if (script.Delay > TimeSpan.Zero)
        {
            await Task.Delay(script.Delay, cancellationToken);
        }

        if (script.Holds(message.Body))
        {
            await script.Release.Task.WaitAsync(cancellationToken);
        }

        await using (var command = new NpgsqlCommand($"INSERT INTO \"{script.Schema}\".effects (message_id, body) VALUES ($1, $2)",
            (NpgsqlConnection)context.Connection, (NpgsqlTransaction)context.Transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = context.MessageId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Body });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        script.Handled.Enqueue(message.Body);
    }
}

public static class Hosts
{
    public const string Consumer = "kafka-test-consumer";

    /// <summary>A relay publishing the test schema's outbox to the mock cluster.</summary>
    public static IHost Relay(TestDatabase db, Action<KafkaTransportOptions>? kafka = null)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddPostbox(o =>
            {
                o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
                o.Relay.LeaseDuration = TimeSpan.FromSeconds(30);
                o.Relay.PublishTimeout = TimeSpan.FromSeconds(15);
                o.Relay.DeliveredRetention = TimeSpan.FromHours(1); // the tests count delivered rows
            })
            .UsePostgreSql(db.DataSource, o => { o.Schema = db.Schema; o.ListenForNotifications = false; })
            .UseKafka(o =>
            {
                o.BootstrapServers = MockKafka.BootstrapServers;
                kafka?.Invoke(o);
            });
        return builder.Build();
    }

    /// <summary>A worker consuming <paramref name="topic"/> from the mock cluster into the test schema's inbox.</summary>
    public static async Task<IHost> StartWorkerAsync(TestDatabase db, string topic, HandlerScript script, int concurrency = 8,
        string consumer = Consumer, Action<KafkaConsumerOptions>? kafka = null)
    {
        script.Schema = db.Schema;
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSingleton(script);
        builder.Services.AddPostbox(o => o.Relay.Enabled = false)
            .UsePostgreSql(db.DataSource, o => { o.Schema = db.Schema; o.ListenForNotifications = false; })
            .UsePostgreSqlInbox()
            .UseKafkaConsumers(o =>
            {
                o.BootstrapServers = MockKafka.BootstrapServers;
                o.CommitInterval = TimeSpan.FromMilliseconds(50);
                o.ConfigureConsumer = c => c.SessionTimeoutMs = 6000;
                kafka?.Invoke(o);
            })
            .ConfigureConsumers(o => { o.RetryPollInterval = TimeSpan.FromMilliseconds(100); o.HandleSignals = false; })
            .AddHandler<WorkItem, EffectHandler>(topic, o =>
            {
                o.ConsumerName = consumer;
                o.Concurrency = concurrency;
            });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>A transport on the mock cluster, outside any host.</summary>
    internal static KafkaTransport Transport(Action<KafkaTransportOptions>? configure = null)
    {
        var options = new KafkaTransportOptions { BootstrapServers = MockKafka.BootstrapServers };
        configure?.Invoke(options);
        return new KafkaTransport(Options.Create(options), NullLogger<KafkaTransport>.Instance, TimeProvider.System);
    }

    public static OutboxEnvelope Envelope(string topic, string body, Guid? id = null, string? key = null, int attempts = 0,
        IReadOnlyDictionary<string, string>? headers = null) =>
        new(id ?? Guid.CreateVersion7(), 0, topic, key, "WorkItem", JsonSerializer.SerializeToUtf8Bytes(new WorkItem(body), JsonSerializerOptions.Web),
            headers ?? new Dictionary<string, string> { ["content-type"] = "application/json" }, DateTimeOffset.UtcNow, attempts, null);
}
