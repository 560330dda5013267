using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>
/// One <c>basic.consume</c> of one queue on a channel of its own, from the moment it is registered until its channel is
/// closed. A partition queue gets a new <see cref="QueueConsumer"/> each time the worker re-registers for it (after a
/// hand-over, a pause), so the deliveries of an earlier registration can never be confused with the current one's.
/// </summary>
/// <remarks>
/// Why a channel per partition: AMQP 0-9-1's <c>basic.cancel</c> leaves the consumer's unacknowledged deliveries with
/// the channel, and RabbitMQ 3.x activates the next single active consumer at once — which then takes the messages
/// behind them, ahead of the ones still held here (the race spring-amqp#2482 describes). Closing the channel instead
/// requeues the unacknowledged deliveries to their original positions in the same step that removes the consumer, so
/// the next consumer continues the partition in order — as when a worker dies.
/// </remarks>
#pragma warning disable CA1001 // _settle is never waited on by handle (no AvailableWaitHandle): nothing to dispose; settles may still race the close.
internal sealed class QueueConsumer
#pragma warning restore CA1001
{
    private const string KeyHeader = "postbox-key";
    private readonly object _gate = new();
    private readonly SemaphoreSlim _settle = new(1, 1);
    // Delivered and not settled yet, with the epoch they arrived in. Guarded by _gate.
    private readonly HashSet<RabbitMQIncomingMessage> _outstanding = [];
    private readonly Action<IncomingMessage> _deliver;
    private readonly string _topic;
    private readonly TimeProvider _timeProvider;
    private AsyncEventingBasicConsumer? _consumer;
    private string? _consumerTag;
    private long _epoch;
    private int _releasing;
    private int _closed;
    private TaskCompletionSource? _drained;
    private long _lastDelivery;

    private QueueConsumer(IChannel channel, string queue, int partition, string topic, Action<IncomingMessage> deliver, TimeProvider timeProvider)
    {
        (Channel, Queue, Partition, _topic, _deliver, _timeProvider) = (channel, queue, partition, topic, deliver, timeProvider);
        channel.ChannelShutdownAsync += OnChannelShutdownAsync;
    }

    public IChannel Channel { get; }

    public string Queue { get; }

    /// <summary>The partition number, or -1 for the topic's own (keyless) queue.</summary>
    public int Partition { get; }

    /// <summary>
    /// Whether the broker has delivered anything to this registration since it was made (or since the connection
    /// recovered): the only sign AMQP 0-9-1 gives that a consumer of a single-active-consumer queue is the active one.
    /// </summary>
    public bool KnownActive { get; private set; }

    /// <summary>When the last delivery arrived (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long LastDelivery => Interlocked.Read(ref _lastDelivery);

    public bool IsReleasing => Volatile.Read(ref _releasing) != 0;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Deliveries being handled (started, not settled).</summary>
    public int InFlight
    {
        get
        {
            lock (_gate)
            {
                return _outstanding.Count(static m => m.Started);
            }
        }
    }

    /// <summary>Opens a channel with its own prefetch window and registers a consumer of <paramref name="queue"/> on it.</summary>
    public static async Task<QueueConsumer> OpenAsync(IConnection connection, string queue, int partition, string topic, int prefetch,
        Action<IncomingMessage> deliver, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            // Per consumer (global: false); quorum queues support no other kind.
            await channel.BasicQosAsync(0, (ushort)Math.Min(prefetch, ushort.MaxValue), global: false, cancellationToken).ConfigureAwait(false);
            var consumer = new QueueConsumer(channel, queue, partition, topic, deliver, timeProvider);
            await consumer.ConsumeAsync(cancellationToken).ConfigureAwait(false);
            return consumer;
        }
        catch
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Wraps <paramref name="channel"/> (already set up) without consuming yet.</summary>
    public static QueueConsumer Wrap(IChannel channel, string queue, string topic, Action<IncomingMessage> deliver, TimeProvider timeProvider) =>
        new(channel, queue, -1, topic, deliver, timeProvider);

    /// <summary>Registers the consumer (<c>basic.consume</c>) unless it is registered.</summary>
    public async Task ConsumeAsync(CancellationToken cancellationToken)
    {
        if (_consumerTag is not null)
        {
            return;
        }

        var consumer = new AsyncEventingBasicConsumer(Channel);
        consumer.ReceivedAsync += OnReceivedAsync;
        _consumer = consumer;
        _consumerTag = await Channel.BasicConsumeAsync(Queue, autoAck: false, consumerTag: string.Empty, noLocal: false, exclusive: false,
            arguments: null, consumer, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>basic.cancel</c>: no new deliveries; those already made stay unacknowledged and are settled later. Only for the
    /// keyless queue: on a single-active-consumer queue it would let the next consumer overtake them.
    /// </summary>
    public async Task CancelAsync(CancellationToken cancellationToken)
    {
        if (_consumerTag is { } tag)
        {
            await Channel.BasicCancelAsync(tag, noWait: false, cancellationToken).ConfigureAwait(false);
            _consumerTag = null;
        }
    }

    /// <summary>
    /// Gives the queue up in order: from now on no delivery of this registration starts (the runtime sees them as
    /// stale); once every delivery that did start has been settled (its outcome committed and acknowledged, or handed
    /// back), the channel is closed, which requeues the rest to their original positions and lets the broker activate
    /// the next consumer. <paramref name="cancellationToken"/> stops the wait, not the close.
    /// </summary>
    public async Task ReleaseAsync(ILogger logger, CancellationToken cancellationToken)
    {
        Task drained;
        lock (_gate)
        {
            // A full fence before reading the started flags: a delivery either sees the release (and stays unstarted) or
            // is seen as started here (and waited for). See RabbitMQIncomingMessage.IsStale.
            Interlocked.Exchange(ref _releasing, 1);
            drained = _outstanding.Any(static m => m.Started) ? (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task : Task.CompletedTask;
        }

        await drained.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await CloseAsync(logger).ConfigureAwait(false);
    }

    /// <summary>Closes the channel (requeueing every unacknowledged delivery); its deliveries become stale.</summary>
    public async Task CloseAsync(ILogger logger)
    {
        Interlocked.Exchange(ref _releasing, 1);
        await _settle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            BumpEpoch();
            if (_consumer is { } consumer)
            {
                consumer.ReceivedAsync -= OnReceivedAsync;
            }

            Channel.ChannelShutdownAsync -= OnChannelShutdownAsync;
            try
            {
                // Bounded: a dead broker must not hold anything up; it requeues the deliveries of a dropped channel anyway.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await Channel.CloseAsync(timeout.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Best effort: a channel that cannot close is abandoned; the broker requeues its deliveries.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                RabbitMQConsumerLog.CloseFailed(logger, ex, Queue);
            }

            await Channel.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _settle.Release();
        }
    }

    /// <summary>The connection or channel went down: the broker requeued every delivery made before.</summary>
    public void BumpEpoch()
    {
        lock (_gate)
        {
            _epoch++;
            _outstanding.Clear();
            KnownActive = false;
            _drained?.TrySetResult();
            _drained = null;
        }
    }

    /// <summary>For <see cref="RabbitMQIncomingMessage.IsStale"/>: whether a delivery of <paramref name="epoch"/> may not start.</summary>
    internal bool Refuses(long epoch) => Volatile.Read(ref _releasing) != 0 || Volatile.Read(ref _closed) != 0 || Interlocked.Read(ref _epoch) != epoch;

    internal async ValueTask SettleAsync(RabbitMQIncomingMessage message, ulong deliveryTag, long epoch, bool requeue, CancellationToken cancellationToken)
    {
        await _settle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (epoch == Interlocked.Read(ref _epoch) && !IsClosed && Channel.IsOpen)
            {
                if (requeue)
                {
                    await Channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await Channel.BasicAckAsync(deliveryTag, multiple: false, cancellationToken).ConfigureAwait(false);
                }
            }
            // Else the broker requeued it when the channel went down; it will be delivered again.
        }
        finally
        {
            _settle.Release();
            // Only now, after the ack is written: a release waiting for this one closes the channel after it, so the
            // broker has processed the ack (same channel, in order) before it activates the next consumer.
            lock (_gate)
            {
                _outstanding.Remove(message);
                if (_drained is not null && !_outstanding.Any(static m => m.Started))
                {
                    _drained.TrySetResult();
                    _drained = null;
                }
            }
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
        // A partition's routing key ({topic}.p{n}) is not the topic the handler and the inbox know.
        var topic = Partition >= 0 && args.RoutingKey.StartsWith(_topic + ".p", StringComparison.Ordinal) ? _topic : args.RoutingKey;
        lock (_gate)
        {
            if (IsReleasing || IsClosed)
            {
                // Being given up: it stays unacknowledged and goes back to the queue, in its place, when the channel closes.
                return Task.CompletedTask;
            }

            // The body's memory is only valid during this callback: copy it.
            var message = new RabbitMQIncomingMessage(this, args.DeliveryTag, Interlocked.Read(ref _epoch), id, topic, headers.GetValueOrDefault(KeyHeader),
                properties.Type, args.Body.ToArray(), headers, args.Redelivered);
            _outstanding.Add(message);
            KnownActive = true;
            Interlocked.Exchange(ref _lastDelivery, _timeProvider.GetTimestamp());
            _deliver(message);
        }

        return Task.CompletedTask;
    }

    private Task OnChannelShutdownAsync(object sender, ShutdownEventArgs args)
    {
        BumpEpoch();
        return Task.CompletedTask;
    }
}
