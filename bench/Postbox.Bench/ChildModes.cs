using System.Diagnostics;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Bench.Scenarios;
using Postbox.Transport;
using RabbitMQ.Client;

namespace Postbox.Bench;

/// <summary>Arguments of a child sub-mode: <c>--name value</c> pairs.</summary>
internal sealed class ChildArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public ChildArgs(IReadOnlyList<string> args)
    {
        for (var i = 0; i + 1 < args.Count; i += 2)
        {
            _values[args[i].TrimStart('-')] = args[i + 1];
        }
    }

    public string this[string name] => _values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"Missing --{name}.");

    public bool Has(string name) => _values.ContainsKey(name);

    public int Int(string name) => int.Parse(this[name], CultureInfo.InvariantCulture);

    public bool Bool(string name) => bool.Parse(this[name]);
}

/// <summary>Counts publishes and confirms at once: isolates the store from the broker (backlog scenario).</summary>
internal sealed class SinkTransport : IOutboxTransport
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// <c>relay</c> sub-mode: a relay-only Postbox host (what a dedicated relay process of an application looks like).
/// Prints <c>@READY</c> once started, stops on a <c>STOP</c> line or end of input.
/// </summary>
internal static class RelayMode
{
    public static async Task<int> RunAsync(ChildArgs a)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        var postbox = builder.Services
            .AddPostbox(o =>
            {
                o.Relay.BatchSize = a.Int("batch-size");
                o.Relay.MaxInFlightBatches = a.Int("in-flight");
                o.Relay.PollInterval = TimeSpan.FromMilliseconds(a.Int("poll-ms"));
            });
        if (a.Has("mysql"))
        {
            postbox.UseMySql(a["mysql"]);
        }
        else
        {
            postbox.UsePostgreSql(a["pg"], o =>
            {
                o.Schema = a["schema"];
                o.ListenForNotifications = a.Bool("listen");
            });
        }

        var sink = new SinkTransport();
        if (a["transport"] == "sink")
        {
            builder.Services.Replace(ServiceDescriptor.Singleton<IOutboxTransport>(sink));
        }
        else
        {
            postbox.UseRabbitMQ(o =>
            {
                o.ConnectionString = a["rabbitmq"];
                o.ExchangeName = a["exchange"];
                o.QueuePrefix = a["queue-prefix"];
                o.ClientProvidedName = "postbox-bench-relay";
            });
        }

        using var stages = a.Has("stages") ? new StageRecorder() : null;
        using var host = builder.Build();
        await host.StartAsync();
        Console.WriteLine("@READY");
        while (await Console.In.ReadLineAsync() is { } line && line != "STOP")
        {
        }

        await host.StopAsync();
        stages?.Write(a["stages"]);
        Console.WriteLine($"@STOPPED {sink.Count}");
        return 0;
    }
}

/// <summary>
/// <c>rawpublish</c> sub-mode: the raw limit of the drain. A bare RabbitMQ.Client publisher: persistent, mandatory
/// messages with the same properties as the transport's, pipelined confirms (a window of unconfirmed publishes
/// spread over a few channels). Prints <c>@READY</c>, publishes on <c>GO</c>, prints <c>@DONE ms failures</c>.
/// </summary>
internal static class RawPublishMode
{
    public static async Task<int> RunAsync(ChildArgs a)
    {
        var count = a.Int("count");
        var window = a.Int("window");
        var exchange = a["exchange"];
        var routingKey = a["routing-key"];
        var body = Payload.Create(a.Int("payload-bytes"));
        await using var connection = await new ConnectionFactory { Uri = new Uri(a["rabbitmq"]), ClientProvidedName = "postbox-bench-raw" }.CreateConnectionAsync();
        var channels = new IChannel[a.Int("channels")];
        for (var i = 0; i < channels.Length; i++)
        {
            channels[i] = await connection.CreateChannelAsync(new CreateChannelOptions(
                publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: new ConcurrencyLimiter(new ConcurrencyLimiterOptions
                {
                    PermitLimit = window, QueueLimit = int.MaxValue, QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                })));
        }

        Console.WriteLine("@READY");
        await Console.In.ReadLineAsync(); // GO
        using var slots = new SemaphoreSlim(window, window);
        var failures = 0;
        var tasks = new List<Task>(count);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await slots.WaitAsync();
            tasks.Add(PublishAsync(channels[i % channels.Length]));
        }

        await Task.WhenAll(tasks);
        Console.WriteLine($"@DONE {watch.ElapsedMilliseconds} {failures}");
        await Console.In.ReadLineAsync(); // STOP
        foreach (var channel in channels)
        {
            await channel.CloseAsync();
            channel.Dispose();
        }

        return 0;

        async Task PublishAsync(IChannel channel)
        {
            try
            {
                await channel.BasicPublishAsync(exchange, routingKey, mandatory: true, RawProperties(), body);
            }
            catch (Exception ex) when (ex is global::RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                slots.Release();
            }
        }
    }

    /// <summary>The properties the Postbox transport sends (message id, type, timestamp, app id, persistent, string headers).</summary>
    public static BasicProperties RawProperties() => new()
    {
        MessageId = Guid.CreateVersion7().ToString("D"),
        Type = "BenchEvent",
        Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        AppId = "postbox",
        DeliveryMode = DeliveryModes.Persistent,
        Headers = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ["postbox-attempt"] = "1",
        },
    };
}

/// <summary>
/// <c>claim-sql [schema]</c>: prints the relay's claim statement for a schema, to study it with <c>EXPLAIN</c> in psql
/// (parameters: $1 owner, $2 batch size, $3 now, $4 lease expiry, $5 key cursor).
/// </summary>
internal static class ClaimSqlMode
{
    public static int Print(string schema)
    {
        Console.WriteLine(new Postbox.PostgreSql.PostgreSqlCommands(new Postbox.PostgreSql.PostgreSqlSchema(schema)).ClaimSkippingDead);
        return 0;
    }
}
