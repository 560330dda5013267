using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Postbox.RabbitMQ.Diagnostics;
using Postbox.Threading;
using Postbox.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Postbox.RabbitMQ.Connection;

/// <summary>
/// One (auto-recovering) connection with its publish channels and the topology declared through it.
/// Replaced as a whole by <see cref="BrokerConnection"/> when it cannot recover.
/// </summary>
internal sealed class BrokerSession : IAsyncDisposable
{
    /// <summary>
    /// A safety net: automatic recovery retries every <see cref="RabbitMQTransportOptions.ReconnectDelay"/>; a
    /// connection still down after this long is replaced by a fresh one in case recovery is wedged.
    /// </summary>
    private static readonly TimeSpan RecoveryGiveUp = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Declarations run concurrently on up to this many channels (an AMQP channel carries one synchronous method at
    /// a time), so many new topics cost a few round trips each in parallel rather than all in a row.
    /// </summary>
    private const int TopologyChannels = 8;

    /// <summary>Queues declared without waiting, per round trip, when many topics are prepared at once.</summary>
    private const int PipelinedDeclarations = 100;

    private readonly RabbitMQTransportOptions _options;
    private readonly string _endpoint;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly PublishChannel[] _channels;
    private readonly SemaphoreSlim _topologyLock = new(TopologyChannels, TopologyChannels);
    private readonly ConcurrentBag<IChannel> _topologyChannels = [];
    private readonly ConcurrentDictionary<string, Task> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ReturnedMessage> _returns = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private Task? _exchange;
    private uint _nextChannel;

    // Set by ConnectionShutdownAsync, cleared by RecoverySucceededAsync: the authoritative "down" flag, because
    // IsOpen turns true again before recovery has reopened the channels.
    private ShutdownEventArgs? _shutdown;
    private long _downSince;
    private bool _recovering;

    // Set by ConnectionBlockedAsync (a memory or disk alarm), cleared when unblocked; the epoch counts blocks, so a
    // publish can tell whether the connection was blocked at any time while it waited for its confirm.
    private string? _blocked;
    private int _blockEpoch;
    private int _recoveryFailures;
    private long _tickets;
    private long _lastConfirmedTicket;

    private BrokerSession(IConnection connection, RabbitMQTransportOptions options, string endpoint, TimeProvider timeProvider, ILogger logger)
    {
        (Connection, _options, _endpoint, _timeProvider, _logger) = (connection, options, endpoint, timeProvider, logger);
        _channels = new PublishChannel[options.PublishChannels];
        for (var i = 0; i < _channels.Length; i++)
        {
            _channels[i] = new PublishChannel(i, this, options.MaxOutstandingConfirms, logger);
        }

        connection.ConnectionShutdownAsync += OnShutdownAsync;
        connection.RecoverySucceededAsync += OnRecoveredAsync;
        connection.ConnectionRecoveryErrorAsync += OnRecoveryErrorAsync;
        connection.ConnectionBlockedAsync += OnBlockedAsync;
        connection.ConnectionUnblockedAsync += OnUnblockedAsync;
    }

    public IConnection Connection { get; }

    /// <summary>Whether publishes can go ahead now.</summary>
    public bool IsUsable => Volatile.Read(ref _shutdown) is null && Connection.IsOpen;

    /// <summary>Why the broker blocks this connection (a resource alarm), or <see langword="null"/> when it does not.</summary>
    public string? BlockedReason => Volatile.Read(ref _blocked);

    /// <summary>Counts the blocks of this connection so far.</summary>
    public int BlockEpoch => Volatile.Read(ref _blockEpoch);

    /// <summary>Numbers a publish in the order publishes start on this connection.</summary>
    public long NextTicket() => Interlocked.Increment(ref _tickets);

    /// <summary>
    /// Whether the broker confirmed any publish that started after <paramref name="ticket"/>: if not, a publish that
    /// timed out waited behind a broker that is not keeping up (or not answering) at all, which is not its own fault.
    /// </summary>
    public bool ConfirmedAfter(long ticket) => Interlocked.Read(ref _lastConfirmedTicket) > ticket;

    /// <summary>Records the confirm of the publish numbered <paramref name="ticket"/>.</summary>
    public void Confirmed(long ticket)
    {
        InterlockedMax.Raise(ref _lastConfirmedTicket, ticket);
    }

    /// <summary>
    /// One round trip on the connection (a passive declaration of <c>amq.direct</c>, which every virtual host has).
    /// The broker reads a connection's frames in order, so the answer also means it has read everything sent before:
    /// a broker that still blocks the socket, or has not caught up with it, does not answer.
    /// </summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await _topologyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        IChannel? channel = null;
        try
        {
            channel = await GetTopologyChannelAsync(cancellationToken).ConfigureAwait(false);
            await channel.ExchangeDeclarePassiveAsync("amq.direct", cancellationToken).ConfigureAwait(false);
        }
        catch when (channel is not null)
        {
            // An abandoned round trip would leave its answer to the channel's next one: drop the channel.
            var abandoned = channel;
            channel = null;
            _ = DisposeQuietlyAsync(abandoned).AsTask();
            throw;
        }
        finally
        {
            ReturnTopologyChannel(channel);
            _topologyLock.Release();
        }
    }

    /// <summary>Opens a connection, declares the exchange and opens the publish channels.</summary>
    public static async Task<BrokerSession> OpenAsync(ConnectionFactory factory, RabbitMQTransportOptions options, string endpoint,
        TimeProvider timeProvider, ILogger logger, CancellationToken cancellationToken)
    {
        var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        var session = new BrokerSession(connection, options, endpoint, timeProvider, logger);
        try
        {
            await session.EnsureExchangeAsync(cancellationToken).ConfigureAwait(false);
            foreach (var channel in session._channels)
            {
                await channel.GetAsync(cancellationToken).ConfigureAwait(false);
            }

            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Whether this connection should be replaced rather than waited for.</summary>
    public bool IsLost(out string reason)
    {
        var shutdown = Volatile.Read(ref _shutdown);
        if (shutdown is null)
        {
            reason = string.Empty;
            return false;
        }

        reason = $"{shutdown.ReplyCode} {shutdown.ReplyText}";
        if (!Volatile.Read(ref _recovering))
        {
            return true;
        }

        return _timeProvider.GetElapsedTime(Interlocked.Read(ref _downSince)) > RecoveryGiveUp;
    }

    /// <summary>Throws <see cref="TransportUnavailableException"/> when the connection is down.</summary>
    public void ThrowIfDown()
    {
        var shutdown = Volatile.Read(ref _shutdown);
        if (shutdown is not null)
        {
            throw new TransportUnavailableException(
                $"The connection to RabbitMQ at {_endpoint} is down ({shutdown.ReplyCode} {shutdown.ReplyText}); automatic recovery retries every {_options.ReconnectDelay}.");
        }

        if (!Connection.IsOpen)
        {
            throw new TransportUnavailableException($"The connection to RabbitMQ at {_endpoint} is closed.");
        }
    }

    /// <summary>
    /// Throws <see cref="TransportUnavailableException"/> when the connection is down or blocked: publishing into a
    /// blocked connection only queues messages the broker does not read, whose publishes then time out and are
    /// published again once it reads them (duplicates).
    /// </summary>
    public void ThrowIfUnavailable()
    {
        ThrowIfDown();
        if (BlockedReason is { } reason)
        {
            throw Blocked(reason);
        }
    }

    /// <summary>The exception for a connection that is blocked, or was blocked while a publish waited.</summary>
    public TransportUnavailableException Blocked(string reason) =>
        new($"RabbitMQ at {_endpoint} blocks publishing on this connection ({reason}): a resource alarm (memory or disk) is in effect. " +
            "Publishing resumes when the broker unblocks the connection.");

    /// <summary>Picks a publish channel round robin. Publishes of one key are sequential, so spreading them keeps their order.</summary>
    public ValueTask<IChannel> GetPublishChannelAsync(CancellationToken cancellationToken)
    {
        var slot = _channels.Length == 1 ? 0 : (int)(Interlocked.Increment(ref _nextChannel) % (uint)_channels.Length);
        return _channels[slot].GetAsync(cancellationToken);
    }

    /// <summary>Declares the exchange once per connection (again after <see cref="ForgetTopology"/>).</summary>
    public Task EnsureExchangeAsync(CancellationToken cancellationToken)
    {
        var task = Volatile.Read(ref _exchange);
        if (task is { IsCompletedSuccessfully: true })
        {
            return Task.CompletedTask;
        }

        if (task is null || task.IsFaulted || task.IsCanceled)
        {
            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var winner = Interlocked.CompareExchange(ref _exchange, fresh.Task, task);
            if (ReferenceEquals(winner, task))
            {
                _ = DeclareAsync(fresh, DeclareExchangeAsync);
                task = fresh.Task;
            }
            else
            {
                task = winner!;
            }
        }

        return WaitSharedAsync(task, cancellationToken);
    }

    /// <summary>Declares and binds the queue of <paramref name="topic"/> once per connection.</summary>
    public Task EnsureQueueAsync(string topic, CancellationToken cancellationToken)
    {
        if (_queues.TryGetValue(topic, out var task) && task.IsCompletedSuccessfully)
        {
            return Task.CompletedTask;
        }

        var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        task = _queues.GetOrAdd(topic, fresh.Task);
        if (ReferenceEquals(task, fresh.Task))
        {
            _ = DeclareAsync(fresh, async (channel, token) =>
            {
                try
                {
                    await DeclareQueueAsync(channel, topic, token).ConfigureAwait(false);
                }
                catch
                {
                    // Forget the failure so the next publish to this topic tries again.
                    _queues.TryRemove(KeyValuePair.Create(topic, fresh.Task));
                    throw;
                }
            });
        }

        return WaitSharedAsync(task, cancellationToken);
    }

    /// <summary>
    /// Declares and binds the queues of <paramref name="topics"/> that are not declared yet, ahead of publishing:
    /// pipelined (no wait for each answer) in chunks on up to <see cref="TopologyChannels"/> channels at once, each
    /// chunk closed by one round trip, so many new topics cost a few round trips rather than two each in a row.
    /// </summary>
    public Task EnsureQueuesAsync(IEnumerable<string> topics, CancellationToken cancellationToken)
    {
        List<Task>? waits = null;
        List<(string Topic, TaskCompletionSource Completion)>? owned = null;
        foreach (var topic in topics)
        {
            if (_queues.TryGetValue(topic, out var existing) && existing.IsCompletedSuccessfully)
            {
                continue;
            }

            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var task = _queues.GetOrAdd(topic, fresh.Task);
            if (ReferenceEquals(task, fresh.Task))
            {
                (owned ??= []).Add((topic, fresh));
            }
            else if (!task.IsCompletedSuccessfully)
            {
                (waits ??= []).Add(task);
            }
        }

        if (owned is not null)
        {
            foreach (var chunk in owned.Chunk(PipelinedDeclarations))
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _ = DeclareAsync(done, (channel, token) => DeclarePipelinedAsync(channel, chunk, token));
                (waits ??= []).Add(done.Task);
            }
        }

        return waits is null ? Task.CompletedTask : WaitSharedAsync(Task.WhenAll(waits), cancellationToken);
    }

    private async Task DeclarePipelinedAsync(IChannel channel, (string Topic, TaskCompletionSource Completion)[] chunk, CancellationToken cancellationToken)
    {
        var queueType = QueueTypes.Normalize(_options.QueueType);
        try
        {
            foreach (var (topic, _) in chunk)
            {
                var queue = _options.QueuePrefix + topic;
                await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                    arguments: new Dictionary<string, object?> { ["x-queue-type"] = queueType }, passive: false, noWait: true,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                await channel.QueueBindAsync(queue, _options.ExchangeName, topic, arguments: null, noWait: true,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            // A channel's methods are handled in order: the answer to this one means every declaration above succeeded
            // (a failed one closes the channel instead).
            await channel.ExchangeDeclarePassiveAsync("amq.direct", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Forget them all: each publish then declares its own queue and reports a failure for its own message.
            var error = new TransportException(
                $"Declaring {chunk.Length} queues ahead of publishing on exchange '{_options.ExchangeName}' failed: {ex.Message}", ex);
            foreach (var (topic, completion) in chunk)
            {
                _queues.TryRemove(KeyValuePair.Create(topic, completion.Task));
                completion.TrySetException(error);
                _ = completion.Task.Exception; // observed: nobody else may wait for it
            }

            throw error;
        }

        foreach (var (topic, completion) in chunk)
        {
            Log.QueueDeclared(_logger, queueType, _options.QueuePrefix + topic, _options.ExchangeName, topic);
            completion.TrySetResult();
        }
    }

    /// <summary>Forgets what was declared for <paramref name="topic"/> (e.g. its queue was deleted), so it is declared again.</summary>
    public void ForgetQueue(string topic)
    {
        if (_queues.TryRemove(topic, out _))
        {
            Log.QueueForgotten(_logger, topic);
        }
    }

    /// <summary>Forgets all declarations (the exchange was deleted), so they are made again.</summary>
    public void ForgetTopology()
    {
        Volatile.Write(ref _exchange, null);
        _queues.Clear();
    }

    public void RecordReturn(string? messageId, ushort replyCode, string replyText)
    {
        if (messageId is null)
        {
            return;
        }

        // An entry is normally taken by its publish right away; one whose publish was cancelled first would stay.
        // Clearing now and then bounds that leak; the worst case is a less precise error text.
        if (_returns.Count > 10_000)
        {
            _returns.Clear();
        }

        _returns[messageId] = new ReturnedMessage(replyCode, replyText);
    }

    public bool TryTakeReturn(string messageId, out ReturnedMessage returned) => _returns.TryRemove(messageId, out returned);

    private static async Task WaitSharedAsync(Task shared, CancellationToken cancellationToken)
    {
        try
        {
            await shared.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TransportUnavailableException ex)
        {
            // The shared task's exception is seen by every waiter: give each its own instance, of the same kind.
            throw new TransportUnavailableException(ex.Message, ex.InnerException);
        }
        catch (TransportException ex)
        {
            // The shared task's exception is seen by every waiter: give each its own instance.
            throw new TransportException(ex.Message, ex.InnerException, ex.IsTransient);
        }
    }

    private async Task DeclareAsync(TaskCompletionSource completion, Func<IChannel, CancellationToken, Task> declare)
    {
        // A declaration is shared by every publish waiting for it, so no single caller's token may cancel it;
        // the protocol timeout (ContinuationTimeout) and disposal bound it.
        try
        {
            await _topologyLock.WaitAsync(_disposed.Token).ConfigureAwait(false);
            IChannel? channel = null;
            try
            {
                channel = await GetTopologyChannelAsync(_disposed.Token).ConfigureAwait(false);
                await declare(channel, _disposed.Token).ConfigureAwait(false);
            }
            finally
            {
                ReturnTopologyChannel(channel);
                _topologyLock.Release();
            }

            completion.TrySetResult();
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException && !_disposed.IsCancellationRequested)
        {
            // The client's own continuation time-out (ConnectionTimeout): the broker did not answer. That is not the
            // message's fault, nor an answer that a retry cannot change, so no publish waiting for it is charged.
            completion.TrySetException(new TransportUnavailableException(
                $"RabbitMQ at {_endpoint} did not answer a topology declaration within {_options.ConnectionTimeout.TotalSeconds:0.###} s " +
                "(ConnectionTimeout): the broker is not keeping up.", ex));
        }
        catch (Exception ex)
        {
            completion.TrySetException(ex is TransportException ? ex : new TransportException(ex.Message, ex));
        }
    }

    private async Task DeclareExchangeAsync(IChannel channel, CancellationToken cancellationToken)
    {
        try
        {
            await channel.ExchangeDeclareAsync(_options.ExchangeName, ExchangeType.Topic, durable: true, autoDelete: false,
                arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new TransportException(
                $"Declaring the durable topic exchange '{_options.ExchangeName}' on RabbitMQ at {_endpoint} failed: {ex.Message}", ex);
        }
    }

    private async Task DeclareQueueAsync(IChannel channel, string topic, CancellationToken cancellationToken)
    {
        var queue = _options.QueuePrefix + topic;
        var queueType = QueueTypes.Normalize(_options.QueueType);
        try
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: Partitioning.QueueArguments(_options, topic, queueType),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, _options.ExchangeName, topic, arguments: null,
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new TransportException(
                $"Declaring the durable {queueType} queue '{queue}' for topic '{topic}' and binding it to exchange '{_options.ExchangeName}' failed " +
                $"(an existing queue with other arguments, e.g. another x-queue-type, cannot be redeclared): {ex.Message}", ex);
        }

        Log.QueueDeclared(_logger, queueType, queue, _options.ExchangeName, topic);
    }

    private async Task<IChannel> GetTopologyChannelAsync(CancellationToken cancellationToken)
    {
        // Called under _topologyLock (one of TopologyChannels permits). A failed declaration closes its channel
        // (channel-level error): such a channel is dropped when returned, and a new one opened here.
        while (_topologyChannels.TryTake(out var pooled))
        {
            if (pooled.IsOpen)
            {
                return pooled;
            }

            await DisposeQuietlyAsync(pooled).ConfigureAwait(false);
        }

        ThrowIfDown();
        return await Connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private void ReturnTopologyChannel(IChannel? channel)
    {
        if (channel is null)
        {
            return;
        }

        if (channel.IsOpen && !_disposed.IsCancellationRequested)
        {
            _topologyChannels.Add(channel);
        }
        else
        {
            _ = DisposeQuietlyAsync(channel).AsTask();
        }
    }

    private Task OnShutdownAsync(object sender, ShutdownEventArgs args)
    {
        Interlocked.Exchange(ref _downSince, _timeProvider.GetTimestamp());
        // The client recovers from failures seen by the library or closures by the broker, except access refused.
        Volatile.Write(ref _recovering, args.Initiator == ShutdownInitiator.Library
            || (args.Initiator == ShutdownInitiator.Peer && args.ReplyCode != Constants.AccessRefused));
        Volatile.Write(ref _shutdown, args);
        if (args.Initiator != ShutdownInitiator.Application)
        {
            Log.ConnectionShutdown(_logger, _endpoint, args.ReplyCode, args.ReplyText, args.Initiator.ToString());
        }

        return Task.CompletedTask;
    }

    private Task OnRecoveredAsync(object sender, AsyncEventArgs args)
    {
        // A recovered connection starts unblocked; the broker blocks it again if the alarm is still in effect.
        Volatile.Write(ref _blocked, null);
        Volatile.Write(ref _recoveryFailures, 0);
        Volatile.Write(ref _shutdown, null);
        Log.ConnectionRecovered(_logger, _endpoint);
        return Task.CompletedTask;
    }

    private Task OnRecoveryErrorAsync(object sender, ConnectionRecoveryErrorEventArgs args)
    {
        // Once per outage: the client retries every ReconnectDelay, and the relay's probes say when it is back.
        if (Interlocked.Increment(ref _recoveryFailures) == 1)
        {
            Log.ConnectionRecoveryFailed(_logger, _endpoint, args.Exception.Message);
        }

        return Task.CompletedTask;
    }

    private Task OnBlockedAsync(object sender, ConnectionBlockedEventArgs args)
    {
        Interlocked.Increment(ref _blockEpoch);
        Volatile.Write(ref _blocked, string.IsNullOrEmpty(args.Reason) ? "no reason given" : args.Reason);
        Log.ConnectionBlocked(_logger, _endpoint, args.Reason);
        return Task.CompletedTask;
    }

    private Task OnUnblockedAsync(object sender, AsyncEventArgs args)
    {
        Volatile.Write(ref _blocked, null);
        Log.ConnectionUnblocked(_logger, _endpoint);
        return Task.CompletedTask;
    }

    internal async ValueTask DisposeQuietlyAsync(IAsyncDisposable resource)
    {
        try
        {
            await resource.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Closing is best effort: a broken connection or channel is abandoned, and the failure is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.DisposeFailed(_logger, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        Connection.ConnectionShutdownAsync -= OnShutdownAsync;
        Connection.RecoverySucceededAsync -= OnRecoveredAsync;
        Connection.ConnectionRecoveryErrorAsync -= OnRecoveryErrorAsync;
        Connection.ConnectionBlockedAsync -= OnBlockedAsync;
        Connection.ConnectionUnblockedAsync -= OnUnblockedAsync;
        foreach (var channel in _channels)
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }

        while (_topologyChannels.TryTake(out var topology))
        {
            await DisposeQuietlyAsync(topology).ConfigureAwait(false);
        }

        try
        {
            // Bounded close: a dead broker must not hold up shutdown.
            await Connection.CloseAsync(Constants.ReplySuccess, "Postbox transport disposed", _options.ConnectionTimeout, abort: true,
                CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Closing is best effort: a broken connection is abandoned, and the failure is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.DisposeFailed(_logger, ex);
        }

        await DisposeQuietlyAsync(Connection).ConfigureAwait(false);
        _topologyLock.Dispose();
        _disposed.Dispose();
    }
}
