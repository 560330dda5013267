using Microsoft.Extensions.DependencyInjection;
using System.Collections.Concurrent;
using System.Text;
using Postbox.Hosting;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>
/// A private exchange and queue prefix on the real broker for one test, plus a raw RabbitMQ.Client consumer
/// (manual acks) that records what arrives. Everything is deleted afterwards.
/// </summary>
public sealed class RabbitBroker : IAsyncLifetime
{
    private readonly List<string> _queues = [];
    private IConnection? _connection;
    private IChannel? _channel;

    public string Exchange { get; } = "px_" + Guid.NewGuid().ToString("N")[..12];

    public string QueuePrefix => Exchange + ".";

    /// <summary>Every delivery in arrival order: message id, topic, key header, body.</summary>
    public ConcurrentQueue<(string Id, string Topic, string? Key, string Body)> Received { get; } = new();

    public void UseIn(PostboxBuilder builder, bool declareQueues = true) =>
        builder.UseRabbitMQ(o =>
        {
            o.ConnectionString = TestEnvironment.RabbitMQUri;
            o.ExchangeName = Exchange;
            o.QueuePrefix = QueuePrefix;
            o.DeclareQueues = declareQueues;
        });

    public async Task InitializeAsync()
    {
        // Retried briefly: another suite may be restarting the shared broker on purpose.
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMQUri), AutomaticRecoveryEnabled = true };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                _connection = await factory.CreateConnectionAsync();
                break;
            }
            catch (global::RabbitMQ.Client.Exceptions.BrokerUnreachableException) when (attempt < 60)
            {
                await Task.Delay(500);
            }
        }

        _channel = await _connection.CreateChannelAsync();
        await _channel.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true);
    }

    /// <summary>Declares the queue for <paramref name="topic"/> (as the transport would) and consumes it.</summary>
    public async Task ConsumeAsync(string topic)
    {
        var queue = QueuePrefix + topic;
        _queues.Add(queue);
        await _channel!.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await _channel.QueueBindAsync(queue, Exchange, topic);
        await _channel.BasicQosAsync(0, 500, false);
        var consumer = new AsyncEventingBasicConsumer(_channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var key = delivery.BasicProperties.Headers?.TryGetValue("postbox-key", out var raw) == true && raw is byte[] bytes ? Encoding.UTF8.GetString(bytes) : null;
            Received.Enqueue((delivery.BasicProperties.MessageId!, delivery.RoutingKey, key, Encoding.UTF8.GetString(delivery.Body.Span)));
            await _channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await _channel.BasicConsumeAsync(queue, autoAck: false, consumer);
    }

    /// <summary>Deletes the queue the transport declares for <paramref name="topic"/> when the test ends.</summary>
    public void DeleteQueueAtEnd(string topic) => _queues.Add(QueuePrefix + topic);

    /// <summary>Waits until at least <paramref name="count"/> deliveries arrived, or fails after <paramref name="timeout"/>.</summary>
    public async Task WaitForAsync(int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (Received.Count < count)
        {
            if (cts.IsCancellationRequested)
            {
                Assert.Fail($"Only {Received.Count} of {count} messages arrived within {timeout}.");
            }

            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.CloseAsync();
            _connection.Dispose();
        }

        // A fresh connection: the test's own may have been cut by a broker restart.
        await using var connection = await new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMQUri) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var queue in _queues)
        {
            await channel.QueueDeleteAsync(queue);
        }

        await channel.ExchangeDeleteAsync(Exchange);
        await channel.CloseAsync();
        await connection.CloseAsync();
    }
}
