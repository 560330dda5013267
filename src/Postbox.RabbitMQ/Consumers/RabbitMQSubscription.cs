using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>
/// One topic's queue — and, when the topic is partitioned, its single-active-consumer partition queues — consumed on
/// one channel with manual acknowledgements and <c>basic.qos(prefetch)</c> per queue. Deliveries carry
/// the connection epoch they arrived in: after a connection loss the broker has requeued them, so they are neither
/// handled nor acknowledged (an old delivery tag must never ack a delivery of the recovered channel).
/// </summary>
internal sealed class RabbitMQSubscription : IConsumerSubscription
{
    private const string KeyHeader = "postbox-key";
    private readonly RabbitMQConsumerSource _source;
    private readonly IChannel _channel;
    private readonly string _queue;
    private readonly IReadOnlyList<string> _queues;
    private readonly string _topic;
    private readonly ILogger _logger;
    private readonly Channel<IncomingMessage> _buffer = Channel.CreateUnbounded<IncomingMessage>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly AsyncEventingBasicConsumer _consumer;
    private readonly Dictionary<string, string> _consumerTags = new(StringComparer.Ordinal);
    private long _epoch;

    private RabbitMQSubscription(RabbitMQConsumerSource source, IChannel channel, string queue, IReadOnlyList<string> queues, string topic, ILogger logger)
    {
        (_source, _channel, _queue, _queues, _topic, _logger) = (source, channel, queue, queues, topic, logger);
        _consumer = new AsyncEventingBasicConsumer(channel);
        _consumer.ReceivedAsync += OnReceivedAsync;
        _channel.ChannelShutdownAsync += OnChannelShutdownAsync;
        _source.ConnectionLost += OnConnectionLost;
    }

    public ChannelReader<IncomingMessage> Messages => _buffer.Reader;

    internal long Epoch => Interlocked.Read(ref _epoch);

    public static async Task<RabbitMQSubscription> CreateAsync(RabbitMQConsumerSource source, IConnection connection, RabbitMQConsumerOptions options,
        string queue, ConsumerSubscriptionRequest request, ILogger logger, CancellationToken cancellationToken)
    {
        var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            // The same topology the publishing transport declares, so consuming can start before the first publish.
            await channel.ExchangeDeclareAsync(options.ExchangeName, ExchangeType.Topic, durable: true, autoDelete: false,
                arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: Partitioning.QueueArguments(options.QueueType, partition: false), cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, options.ExchangeName, request.Topic, arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false);
            var queues = new List<string> { queue };
            var partitions = Partitioning.CountFor(request.Topic, options.Partitions, options.TopicPartitions);
            for (var n = 0; n < partitions; n++)
            {
                // Single active consumer: every worker registers, RabbitMQ delivers to one at a time and hands the
                // partition (its unacknowledged messages first, in queue order) to the next when that one goes away.
                var partitionQueue = Partitioning.PartitionName(queue, n);
                await channel.QueueDeclareAsync(partitionQueue, durable: true, exclusive: false, autoDelete: false,
                    arguments: Partitioning.QueueArguments(options.QueueType, partition: true), cancellationToken: cancellationToken).ConfigureAwait(false);
                await channel.QueueBindAsync(partitionQueue, options.ExchangeName, Partitioning.PartitionName(request.Topic, n), arguments: null,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                queues.Add(partitionQueue);
            }

            // Per consumer (global: false), so each queue has its own window; quorum queues support no other kind.
            await channel.BasicQosAsync(0, (ushort)Math.Min(request.Prefetch, ushort.MaxValue), global: false, cancellationToken).ConfigureAwait(false);
            var subscription = new RabbitMQSubscription(source, channel, queue, queues, request.Topic, logger);
            await subscription.ResumeAsync(cancellationToken).ConfigureAwait(false);
            return subscription;
        }
        catch
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task PauseAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var (queue, tag) in _consumerTags)
            {
                // basic.cancel: the broker stops delivering (and moves a partition to a waiting worker); deliveries
                // already made stay unacknowledged and are settled later.
                await _channel.BasicCancelAsync(tag, noWait: false, cancellationToken).ConfigureAwait(false);
                RabbitMQConsumerLog.Cancelled(_logger, queue);
            }

            _consumerTags.Clear();
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task ResumeAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var queue in _queues)
            {
                if (!_consumerTags.ContainsKey(queue))
                {
                    _consumerTags[queue] = await _channel.BasicConsumeAsync(queue, autoAck: false, consumerTag: string.Empty, noLocal: false,
                        exclusive: false, arguments: null, _consumer, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    internal async ValueTask SettleAsync(ulong deliveryTag, long epoch, bool requeue, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (epoch != Epoch || !_channel.IsOpen)
            {
                return; // The broker requeued it when the channel went down; it will be delivered again.
            }

            if (requeue)
            {
                await _channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _channel.BasicAckAsync(deliveryTag, multiple: false, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private Task OnReceivedAsync(object sender, BasicDeliverEventArgs args)
    {
        var properties = args.BasicProperties;
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (properties.Headers is { } raw)
        {
            foreach (var (name, value) in raw)
            {
                // AMQP carries strings as byte arrays (long strings).
                var text = value switch
                {
                    null => null,
                    byte[] bytes => Encoding.UTF8.GetString(bytes),
                    string s => s,
                    _ => Convert.ToString(value, CultureInfo.InvariantCulture),
                };
                if (text is not null)
                {
                    headers[name] = text;
                }
            }
        }

        Guid? id = Guid.TryParse(properties.MessageId, out var parsed) ? parsed : null;
        // The body's memory is only valid during this callback: copy it.
        // A partition's routing key ({topic}.p{n}) is not the topic the handler and the inbox know.
        var topic = _queues.Count > 1 && args.RoutingKey.StartsWith(_topic + ".p", StringComparison.Ordinal) ? _topic : args.RoutingKey;
        var message = new RabbitMQIncomingMessage(this, args.DeliveryTag, Epoch, id, topic, headers.GetValueOrDefault(KeyHeader),
            properties.Type, args.Body.ToArray(), headers, args.Redelivered);
        _buffer.Writer.TryWrite(message);
        return Task.CompletedTask;
    }

    private Task OnChannelShutdownAsync(object sender, ShutdownEventArgs args)
    {
        OnConnectionLost();
        return Task.CompletedTask;
    }

    private void OnConnectionLost() => Interlocked.Increment(ref _epoch);

    public async ValueTask DisposeAsync()
    {
        _source.ConnectionLost -= OnConnectionLost;
        _channel.ChannelShutdownAsync -= OnChannelShutdownAsync;
        _consumer.ReceivedAsync -= OnReceivedAsync;
        try
        {
            // Closing the channel requeues every delivery still unacknowledged on it.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _channel.CloseAsync(timeout.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Best effort: a channel that cannot close is abandoned; the broker requeues its deliveries.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            RabbitMQConsumerLog.CloseFailed(_logger, ex, _queue);
        }

        await _channel.DisposeAsync().ConfigureAwait(false);
        _buffer.Writer.TryComplete();
        _lock.Dispose();
    }
}
