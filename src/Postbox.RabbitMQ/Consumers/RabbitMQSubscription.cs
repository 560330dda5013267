using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using RabbitMQ.Client;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>
/// One topic's queue — and, when the topic is partitioned, its single-active-consumer partition queues, each on a
/// channel of its own — consumed with manual acknowledgements and <c>basic.qos(prefetch)</c> per queue. Deliveries carry
/// the connection epoch they arrived in: after a connection loss the broker has requeued them, so they are neither
/// handled nor acknowledged (an old delivery tag must never ack a delivery of the recovered channel).
/// </summary>
/// <remarks>
/// Spreading partitions (<see cref="RabbitMQConsumerOptions.RebalanceInterval"/>): RabbitMQ 3.x makes the first consumer
/// registered the active one of a single-active-consumer queue, so the first worker to start would take every
/// partition. Every interval (jittered) this subscription compares the partitions it knows it is active on (it has had
/// deliveries from them) with its share, ⌈partitions / workers⌉, where the number of workers is the partition queues'
/// consumer count; above its share it hands one partition over (<see cref="QueueConsumer.ReleaseAsync"/>: nothing new
/// starts, what runs finishes and is acknowledged, then the channel closes and the broker requeues the rest in place
/// and activates the next consumer in registration order) and registers again at the back of that queue's consumers.
/// One hand-over per interval and only above the share, so it settles rather than oscillates.
/// </remarks>
internal sealed class RabbitMQSubscription : IConsumerSubscription
{
    private const int WorkerCountSamples = 3;
    private readonly RabbitMQConsumerSource _source;
    private readonly IConnection _connection;
    private readonly RabbitMQConsumerOptions _options;
    private readonly ConsumerSubscriptionRequest _request;
    private readonly string _queue;
    private readonly string[] _partitionQueues;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Channel<IncomingMessage> _buffer = Channel.CreateUnbounded<IncomingMessage>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly SemaphoreSlim _control = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    // The topic's own (keyless) queue; replaced when its channel had to be closed (paused while the broker was down).
    private QueueConsumer _main;
    // The current registration of each partition; null while not registered (paused, handed over, failed to register).
    private readonly QueueConsumer?[] _partitions;
    // Releases under way (pause, hand-over), by partition.
    private readonly Task?[] _releases;
    private IChannel? _probe;
    private Task _balancer = Task.CompletedTask;
    private bool _paused;
    private bool _disposed;

    private RabbitMQSubscription(RabbitMQConsumerSource source, IConnection connection, RabbitMQConsumerOptions options, ConsumerSubscriptionRequest request,
        string queue, IChannel mainChannel, string[] partitionQueues, ILogger logger, TimeProvider timeProvider)
    {
        (_source, _connection, _options, _request, _queue, _partitionQueues, _logger, _timeProvider) =
            (source, connection, options, request, queue, partitionQueues, logger, timeProvider);
        _main = QueueConsumer.Wrap(mainChannel, queue, request.Topic, Deliver, timeProvider);
        _partitions = new QueueConsumer?[partitionQueues.Length];
        _releases = new Task?[partitionQueues.Length];
        _source.ConnectionLost += OnConnectionLost;
    }

    public ChannelReader<IncomingMessage> Messages => _buffer.Reader;

    public static async Task<RabbitMQSubscription> CreateAsync(RabbitMQConsumerSource source, IConnection connection, RabbitMQConsumerOptions options,
        string queue, ConsumerSubscriptionRequest request, ILogger logger, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        RabbitMQSubscription? subscription = null;
        try
        {
            // The same topology the publishing transport declares, so consuming can start before the first publish.
            await channel.ExchangeDeclareAsync(options.ExchangeName, ExchangeType.Topic, durable: true, autoDelete: false,
                arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: Partitioning.QueueArguments(options.QueueType, partition: false), cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, options.ExchangeName, request.Topic, arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false);
            var partitions = Partitioning.CountFor(request.Topic, options.Partitions, options.TopicPartitions);
            var partitionQueues = new string[partitions];
            for (var n = 0; n < partitions; n++)
            {
                // Single active consumer: every worker registers, RabbitMQ delivers to one at a time and hands the
                // partition (its unacknowledged messages first, in queue order) to the next when that one goes away.
                partitionQueues[n] = Partitioning.PartitionName(queue, n);
                await channel.QueueDeclareAsync(partitionQueues[n], durable: true, exclusive: false, autoDelete: false,
                    arguments: Partitioning.QueueArguments(options.QueueType, partition: true), cancellationToken: cancellationToken).ConfigureAwait(false);
                await channel.QueueBindAsync(partitionQueues[n], options.ExchangeName, Partitioning.PartitionName(request.Topic, n), arguments: null,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            // Per consumer (global: false), so each queue has its own window; quorum queues support no other kind.
            await channel.BasicQosAsync(0, (ushort)Math.Min(request.Prefetch, ushort.MaxValue), global: false, cancellationToken).ConfigureAwait(false);
            subscription = new RabbitMQSubscription(source, connection, options, request, queue, channel, partitionQueues, logger, timeProvider);
            await subscription.ResumeAsync(cancellationToken).ConfigureAwait(false);
            // Always: besides handing partitions over it registers again what could not be registered (a resume while
            // the broker was down).
            subscription._balancer = Task.Run(subscription.BalanceAsync, CancellationToken.None);

            return subscription;
        }
        catch
        {
            if (subscription is not null)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Stops new deliveries. Each partition is released in the background — closed once its deliveries being handled
    /// are settled — so the next worker takes it over in order; its deliveries not started go back to the queue. The
    /// keyless queue's consumer is cancelled (what it delivered is settled later); when it cannot be (the broker is
    /// down), its channel is closed instead, so that the connection's recovery does not register it again.
    /// </summary>
    public async Task PauseAsync(CancellationToken cancellationToken)
    {
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _paused = true;
            // First, and without the broker: a closed channel is not recovered, so a paused worker comes back from a
            // broker restart holding no partition.
            for (var n = 0; n < _partitions.Length; n++)
            {
                _ = StartRelease(n); // Observed by ResumeAsync and DisposeAsync.
            }

            try
            {
                await _main.CancelAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The broker unreachable: the consumer is still recorded for recovery. Its deliveries are stale anyway
                // (the connection went down), so close the channel; ResumeAsync opens a new one.
                RabbitMQConsumerLog.RegistrationFailed(_logger, _queue, "cancelling the consumer", $"{ex.GetType().Name}: {ex.Message}",
                    "its channel is closed instead, and a new one is opened on resume");
                await _main.CloseAsync(_logger).ConfigureAwait(false);
            }

            RabbitMQConsumerLog.Cancelled(_logger, _queue);
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Registers the consumers again. What cannot be registered now (the broker is down) is registered by the balancing
    /// loop once it can be; the first call (from <see cref="CreateAsync"/>) throws instead, so subscribing is retried.
    /// </summary>
    public async Task ResumeAsync(CancellationToken cancellationToken)
    {
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _paused = false;
            try
            {
                await RegisterAsync(waitForReleases: true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (_balancer is { IsCompleted: false } && !cancellationToken.IsCancellationRequested)
            {
                RabbitMQConsumerLog.RegistrationFailed(_logger, _queue, "registering the consumers", $"{ex.GetType().Name}: {ex.Message}",
                    "they are registered once the broker answers");
            }
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Registers the keyless queue's consumer (on a new channel if its channel was closed) and every partition not
    /// registered; a partition still being released is waited for (<paramref name="waitForReleases"/>) or skipped. Caller
    /// holds <see cref="_control"/>.
    /// </summary>
    private async Task RegisterAsync(bool waitForReleases, CancellationToken cancellationToken)
    {
        if (_main.IsClosed)
        {
            _main = await QueueConsumer.OpenAsync(_connection, _queue, -1, _request.Topic, _request.Prefetch, Deliver, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await _main.ConsumeAsync(cancellationToken).ConfigureAwait(false);
        }

        for (var n = 0; n < _partitions.Length; n++)
        {
            // A partition still being released registers again only after its channel closed: at the back of the queue.
            if (_releases[n] is { } release)
            {
                if (!waitForReleases)
                {
                    continue;
                }

                await release.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            _partitions[n] ??= await OpenPartitionAsync(n, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<QueueConsumer> OpenPartitionAsync(int partition, CancellationToken cancellationToken) =>
        QueueConsumer.OpenAsync(_connection, _partitionQueues[partition], partition, _request.Topic, _request.Prefetch, Deliver, _timeProvider, cancellationToken);

    /// <summary>Starts releasing partition <paramref name="partition"/> unless it is not registered. Caller holds <see cref="_control"/>.</summary>
    private Task StartRelease(int partition)
    {
        if (_partitions[partition] is not { } consumer)
        {
            return _releases[partition] ?? Task.CompletedTask;
        }

        _partitions[partition] = null;
        var release = consumer.ReleaseAsync(_logger, _stop.Token);
        _releases[partition] = release;
        _ = release.ContinueWith(_ => Forget(partition, release), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return release;
    }

    private void Forget(int partition, Task release) => Interlocked.CompareExchange(ref _releases[partition], null, release);

    /// <summary>
    /// The hand-over loop: one decision per (jittered) interval. Without hand-overs (one partition or none, or the
    /// interval 0) it only registers, every <see cref="RabbitMQConsumerOptions.ReconnectDelay"/>, what could not be.
    /// </summary>
    private async Task BalanceAsync()
    {
        var token = _stop.Token;
        var interval = HandsOver ? _options.RebalanceInterval : _options.ReconnectDelay;
        while (!token.IsCancellationRequested)
        {
#pragma warning disable CA5394 // Jitter, not security.
            var delay = interval * (0.75 + (Random.Shared.NextDouble() * 0.5));
#pragma warning restore CA5394
            try
            {
                await Task.Delay(delay, _timeProvider, token).ConfigureAwait(false);
                await BalanceOnceAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The broker unreachable, a queue deleted: try again at the next interval.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                RabbitMQConsumerLog.RebalanceFailed(_logger, _queue, $"{ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    private bool HandsOver => _partitions.Length > 1 && _options.RebalanceInterval > TimeSpan.Zero;

    /// <summary>Registers what lost its registration, then hands one partition over if above the share.</summary>
    internal async Task BalanceOnceAsync(CancellationToken cancellationToken)
    {
        List<QueueConsumer> active;
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_paused || _disposed)
            {
                return;
            }

            // A registration that failed — after a hand-over, or a resume while the broker was unreachable — is made
            // again now.
            await RegisterAsync(waitForReleases: false, cancellationToken).ConfigureAwait(false);
            active = [.. _partitions.OfType<QueueConsumer>().Where(static c => c.KnownActive && !c.IsReleasing && !c.IsClosed)];
        }
        finally
        {
            _control.Release();
        }

        if (!HandsOver || active.Count < 2)
        {
            return; // A share is at least one partition.
        }

        var workers = await CountWorkersAsync(active, cancellationToken).ConfigureAwait(false);
        var share = (_partitions.Length + workers - 1) / workers;
        if (active.Count <= share)
        {
            return;
        }

        // The quickest to give up: fewest deliveries being handled, then the longest without a delivery.
        var victim = active.OrderBy(static c => c.InFlight).ThenBy(static c => c.LastDelivery).First();
        RabbitMQConsumerLog.HandingOver(_logger, victim.Queue, active.Count, _partitions.Length, share, workers, victim.InFlight);
        var started = _timeProvider.GetTimestamp();
        Task release;
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_paused || _disposed || !ReferenceEquals(_partitions[victim.Partition], victim))
            {
                return;
            }

            release = StartRelease(victim.Partition);
        }
        finally
        {
            _control.Release();
        }

        await release.ConfigureAwait(false);
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_paused || _disposed || _partitions[victim.Partition] is not null)
            {
                return;
            }

            // At the back of the queue's consumers: the worker takes the partition again only when those before it go.
            _partitions[victim.Partition] = await OpenPartitionAsync(victim.Partition, cancellationToken).ConfigureAwait(false);
            RabbitMQConsumerLog.HandedOver(_logger, victim.Queue, _timeProvider.GetElapsedTime(started));
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// The number of workers: every worker registers on every partition queue, so it is their consumer count (a passive
    /// declare). The largest of a few samples, as a worker re-registering after a hand-over is briefly missing from one.
    /// </summary>
    private async Task<int> CountWorkersAsync(List<QueueConsumer> active, CancellationToken cancellationToken)
    {
        if (_probe is not { IsOpen: true })
        {
            if (_probe is { } old)
            {
                await old.DisposeAsync().ConfigureAwait(false);
            }

            // Its own channel: a passive declare of a missing queue closes the channel it is sent on.
            _probe = await _connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var workers = 1;
        foreach (var consumer in active.Take(WorkerCountSamples))
        {
            var declared = await _probe.QueueDeclarePassiveAsync(consumer.Queue, cancellationToken).ConfigureAwait(false);
            workers = Math.Max(workers, (int)Math.Min(declared.ConsumerCount, int.MaxValue));
        }

        return workers;
    }

    private void Deliver(IncomingMessage message) => _buffer.Writer.TryWrite(message);

    private void OnConnectionLost()
    {
        _main.BumpEpoch();
        foreach (var consumer in _partitions)
        {
            consumer?.BumpEpoch();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _source.ConnectionLost -= OnConnectionLost;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _balancer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _control.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            // Closing a channel requeues every delivery still unacknowledged on it.
            await _main.CloseAsync(_logger).ConfigureAwait(false);
            for (var n = 0; n < _partitions.Length; n++)
            {
                if (_partitions[n] is { } consumer)
                {
                    await consumer.CloseAsync(_logger).ConfigureAwait(false);
                    _partitions[n] = null;
                }
            }

            await Task.WhenAll(_releases.OfType<Task>()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (_probe is { } probe)
            {
                await probe.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _control.Release();
        }

        _buffer.Writer.TryComplete();
        _stop.Dispose();
    }
}
