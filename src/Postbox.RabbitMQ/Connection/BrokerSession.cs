using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Postbox.RabbitMQ.Diagnostics;
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

    private readonly RabbitMQTransportOptions _options;
    private readonly string _endpoint;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly PublishChannel[] _channels;
    private readonly SemaphoreSlim _topologyLock = new(1, 1);
    private readonly ConcurrentDictionary<string, Task> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ReturnedMessage> _returns = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private IChannel? _topology;
    private Task? _exchange;
    private uint _nextChannel;

    // Set by ConnectionShutdownAsync, cleared by RecoverySucceededAsync: the authoritative "down" flag, because
    // IsOpen turns true again before recovery has reopened the channels.
    private ShutdownEventArgs? _shutdown;
    private long _downSince;
    private bool _recovering;

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

    /// <summary>Throws a transient <see cref="TransportException"/> when the connection is down.</summary>
    public void ThrowIfDown()
    {
        var shutdown = Volatile.Read(ref _shutdown);
        if (shutdown is not null)
        {
            throw new TransportException(
                $"The connection to RabbitMQ at {_endpoint} is down ({shutdown.ReplyCode} {shutdown.ReplyText}); automatic recovery retries every {_options.ReconnectDelay}.");
        }

        if (!Connection.IsOpen)
        {
            throw new TransportException($"The connection to RabbitMQ at {_endpoint} is closed.");
        }
    }

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
            _ = DeclareAsync(fresh, async token =>
            {
                try
                {
                    await DeclareQueueAsync(topic, token).ConfigureAwait(false);
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
        catch (TransportException ex)
        {
            // The shared task's exception is seen by every waiter: give each its own instance.
            throw new TransportException(ex.Message, ex.InnerException, ex.IsTransient);
        }
    }

    private async Task DeclareAsync(TaskCompletionSource completion, Func<CancellationToken, Task> declare)
    {
        // A declaration is shared by every publish waiting for it, so no single caller's token may cancel it;
        // the protocol timeout (ContinuationTimeout) and disposal bound it.
        try
        {
            await _topologyLock.WaitAsync(_disposed.Token).ConfigureAwait(false);
            try
            {
                await declare(_disposed.Token).ConfigureAwait(false);
            }
            finally
            {
                _topologyLock.Release();
            }

            completion.TrySetResult();
        }
        catch (Exception ex)
        {
            completion.TrySetException(ex is TransportException ? ex : new TransportException(ex.Message, ex));
        }
    }

    private async Task DeclareExchangeAsync(CancellationToken cancellationToken)
    {
        var channel = await GetTopologyChannelAsync(cancellationToken).ConfigureAwait(false);
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

    private async Task DeclareQueueAsync(string topic, CancellationToken cancellationToken)
    {
        var queue = _options.QueuePrefix + topic;
        var queueType = QueueTypes.Normalize(_options.QueueType);
        var channel = await GetTopologyChannelAsync(cancellationToken).ConfigureAwait(false);
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
        // Called under _topologyLock. A failed declaration closes the channel (channel-level error): reopen it.
        var channel = _topology;
        if (channel is { IsOpen: true })
        {
            return channel;
        }

        ThrowIfDown();
        if (channel is not null)
        {
            _topology = null;
            await DisposeQuietlyAsync(channel).ConfigureAwait(false);
        }

        channel = await Connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _topology = channel;
        return channel;
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
        Volatile.Write(ref _shutdown, null);
        Log.ConnectionRecovered(_logger, _endpoint);
        return Task.CompletedTask;
    }

    private Task OnRecoveryErrorAsync(object sender, ConnectionRecoveryErrorEventArgs args)
    {
        Log.ConnectionRecoveryFailed(_logger, args.Exception, _endpoint);
        return Task.CompletedTask;
    }

    private Task OnBlockedAsync(object sender, ConnectionBlockedEventArgs args)
    {
        Log.ConnectionBlocked(_logger, _endpoint, args.Reason);
        return Task.CompletedTask;
    }

    private Task OnUnblockedAsync(object sender, AsyncEventArgs args)
    {
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

        if (_topology is { } topology)
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
