using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Postbox.RabbitMQ.Tests.Infrastructure;

/// <summary>A raw RabbitMQ.Client consumer with manual acks, collecting what arrives on a queue.</summary>
internal sealed class QueueReader : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly Channel<Delivery> _deliveries = Channel.CreateUnbounded<Delivery>();

    private QueueReader(IConnection connection, IChannel channel) => (_connection, _channel) = (connection, channel);

    public static async Task<QueueReader> StartAsync(string queue)
    {
        var connection = await RabbitMQBroker.ConnectAsync();
        var channel = await connection.CreateChannelAsync();
        await channel.BasicQosAsync(prefetchSize: 0, prefetchCount: 1000, global: false);
        var reader = new QueueReader(connection, channel);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, args) =>
        {
            reader._deliveries.Writer.TryWrite(new Delivery(args.BasicProperties.MessageId, args.BasicProperties.Type,
                args.BasicProperties.DeliveryMode, args.BasicProperties.ContentType, args.BasicProperties.AppId,
                args.BasicProperties.Timestamp.UnixTime, ReadHeaders(args.BasicProperties.Headers), args.Body.ToArray(), args.Redelivered));
            await channel.BasicAckAsync(args.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        return reader;
    }

    public async Task<Delivery> ReadAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _deliveries.Reader.ReadAsync(cts.Token);
    }

    public async Task<List<Delivery>> ReadAsync(int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var list = new List<Delivery>(count);
        while (list.Count < count)
        {
            list.Add(await _deliveries.Reader.ReadAsync(cts.Token));
        }

        return list;
    }

    /// <summary>Whether anything more arrives within <paramref name="wait"/>.</summary>
    public async Task<bool> AnyMoreAsync(TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            return await _deliveries.Reader.WaitToReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static Dictionary<string, string> ReadHeaders(IDictionary<string, object?>? headers) =>
        headers?.ToDictionary(h => h.Key, h => h.Value is byte[] bytes ? System.Text.Encoding.UTF8.GetString(bytes) : h.Value?.ToString() ?? "")
        ?? [];

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}

internal sealed record Delivery(string? MessageId, string? Type, DeliveryModes DeliveryMode, string? ContentType, string? AppId, long Timestamp,
    Dictionary<string, string> Headers, byte[] Body, bool Redelivered);
