using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace Postbox.Consumers.Tests.Infrastructure;

/// <summary>
/// A raw RabbitMQ.Client publisher producing exactly what the Postbox transport publishes (exchange <c>postbox</c>,
/// routing key = topic, persistent, MessageId = id "D", Type, headers), plus queue inspection and clean-up.
/// </summary>
public sealed class TestBroker : IAsyncDisposable
{
    public const string Exchange = "postbox";

    private readonly List<string> _queues = [];
    private IConnection? _connection;
    private IChannel? _channel;

    public static string NewTopic(string name) => $"test.consumers.{name}.{Guid.NewGuid():N}";

    /// <summary>Declares the queue the consumer will use, so messages published before it subscribes are kept.</summary>
    public async Task DeclareAsync(string topic)
    {
        var channel = await ChannelAsync();
        await channel.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        await channel.QueueDeclareAsync(topic, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "classic" });
        await channel.QueueBindAsync(topic, Exchange, topic);
        lock (_queues)
        {
            _queues.Add(topic);
        }
    }

    /// <summary>Deletes <paramref name="queue"/> (e.g. a partition queue a worker declared) when the test ends.</summary>
    public void Track(string queue)
    {
        lock (_queues)
        {
            _queues.Add(queue);
        }
    }

    public async Task PublishAsync(string topic, Guid id, object payload, string? traceParent = null, string? key = null)
    {
        var channel = await ChannelAsync();
        var headers = new Dictionary<string, object?>
        {
            ["postbox-attempt"] = 1,
            ["content-type"] = Encoding.UTF8.GetBytes("application/json"),
        };
        if (key is not null)
        {
            headers["postbox-key"] = Encoding.UTF8.GetBytes(key);
        }

        if (traceParent is not null)
        {
            headers["traceparent"] = Encoding.UTF8.GetBytes(traceParent);
        }

        var properties = new BasicProperties
        {
            MessageId = id.ToString("D"),
            Type = "WorkItem",
            Persistent = true,
            ContentType = "application/json",
            Headers = headers,
        };
        await channel.BasicPublishAsync(Exchange, topic, mandatory: true, properties, JsonSerializer.SerializeToUtf8Bytes(payload, JsonSerializerOptions.Web));
    }

    public async Task<uint> ReadyCountAsync(string queue)
    {
        var channel = await ChannelAsync();
        var ok = await channel.QueueDeclarePassiveAsync(queue);
        return ok.MessageCount;
    }

    /// <summary>Consumers registered on <paramref name="queue"/>; 0 while the queue does not exist yet.</summary>
    public async Task<uint> ConsumerCountAsync(string queue)
    {
        try
        {
            var channel = await ChannelAsync();
            return (await channel.QueueDeclarePassiveAsync(queue)).ConsumerCount;
        }
        catch (global::RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return 0; // 404: not declared yet (the channel is closed; the next call opens another)
        }
    }

    /// <summary>Drops the connection, e.g. after a broker restart.</summary>
    public async Task ResetAsync()
    {
        if (_channel is not null)
        {
            await _channel.DisposeAsync();
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        (_channel, _connection) = (null, null);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ResetAsync();
            var channel = await ChannelAsync();
            foreach (var queue in _queues)
            {
                await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
            }
        }
        finally
        {
            await ResetAsync();
        }
    }

    private async Task<IChannel> ChannelAsync()
    {
        if (_channel is { IsOpen: true })
        {
            return _channel;
        }

        await ResetAsync();
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMQUri), ClientProvidedName = "postbox-consumer-tests" };
        _connection = await factory.CreateConnectionAsync();
        _channel = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        return _channel;
    }

    /// <summary>Runs rabbitmqctl (as root, like the test scripts); throws on failure.</summary>
    public static async Task RabbitMQCtlAsync(string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("rabbitmqctl", arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {arguments} failed ({process.ExitCode}): {await output} {await error}");
        }
    }
}
