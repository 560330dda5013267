using Postbox.RabbitMQ.Connection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Postbox.RabbitMQ.Consumers;

/// <summary>
/// Consumes RabbitMQ queues over one dedicated, automatically recovering connection (separate from the publishing
/// transport's, so a blocked publisher never stalls acknowledgements). One channel per subscribed queue (a topic's queue and each of its partitions).
/// </summary>
internal sealed class RabbitMQConsumerSource : IConsumerSource, IAsyncDisposable
{
    private readonly RabbitMQConsumerOptions _options;
    private readonly ILogger _logger;
    private readonly ConnectionFactory _factory;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private IConnection? _connection;

    public RabbitMQConsumerSource(IOptions<RabbitMQConsumerOptions> options, ILogger<RabbitMQConsumerSource> logger, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        (_options, _logger, _timeProvider) = (options.Value, logger, timeProvider);
        _factory = ConnectionFactories.Create(_options.ConnectionString, _options.ClientProvidedName, _options.ReconnectDelay, _options.ConnectionTimeout);
        Endpoint = $"{_factory.HostName}:{_factory.Port}";
    }

    /// <summary>Host and port, for logs (never the URI: it may carry a password).</summary>
    public string Endpoint { get; }

    /// <summary>Raised when the connection goes down: every delivery made before is stale.</summary>
    public event Action? ConnectionLost;

    public async Task<IConsumerSubscription> SubscribeAsync(ConsumerSubscriptionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        var queue = request.Queue ?? _options.QueuePrefix + request.Topic;
        RabbitMQSubscription subscription;
        try
        {
            subscription = await RabbitMQSubscription.CreateAsync(this, connection, _options, queue, request, _logger, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationInterruptedException ex) when (IsConnectionForced(ex))
        {
            // The broker is shutting down or restarting: an outage like an unreachable broker (one log line, retried),
            // not a fault of this subscription.
            throw new TransportException($"RabbitMQ closed the connection while subscribing to {queue}: {ex.ShutdownReason?.ReplyText}", ex);
        }

        RabbitMQConsumerLog.Consuming(_logger, queue, _options.ExchangeName, request.Topic,
            Partitioning.CountFor(request.Topic, _options.Partitions, _options.TopicPartitions), request.Prefetch);
        return subscription;
    }

    /// <summary>A connection closed by the broker (CONNECTION_FORCED, 320: shutdown, restart, an operator's close), not a channel error.</summary>
    internal static bool IsConnectionForced(OperationInterruptedException exception) =>
        exception.ShutdownReason is { ReplyCode: Constants.ConnectionForced };

    private async Task<IConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is not null)
            {
                return _connection;
            }

            var connection = await _factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            connection.ConnectionShutdownAsync += OnShutdownAsync;
            connection.RecoverySucceededAsync += OnRecoveredAsync;
            connection.ConnectionRecoveryErrorAsync += OnRecoveryErrorAsync;
            _connection = connection;
            RabbitMQConsumerLog.Connected(_logger, Endpoint, _options.ClientProvidedName);
            return connection;
        }
        finally
        {
            _lock.Release();
        }
    }

    private Task OnShutdownAsync(object sender, ShutdownEventArgs args)
    {
        if (args.Initiator != ShutdownInitiator.Application)
        {
            RabbitMQConsumerLog.ConnectionShutdown(_logger, Endpoint, args.ReplyCode, args.ReplyText);
        }

        ConnectionLost?.Invoke();
        return Task.CompletedTask;
    }

    private Task OnRecoveredAsync(object sender, AsyncEventArgs args)
    {
        RabbitMQConsumerLog.ConnectionRecovered(_logger, Endpoint);
        return Task.CompletedTask;
    }

    private Task OnRecoveryErrorAsync(object sender, ConnectionRecoveryErrorEventArgs args)
    {
        var reason = args.Exception.InnerException is { } inner
            ? $"{args.Exception.GetType().Name}: {args.Exception.Message} ({inner.GetType().Name}: {inner.Message})"
            : $"{args.Exception.GetType().Name}: {args.Exception.Message}";
        RabbitMQConsumerLog.RecoveryFailed(_logger, Endpoint, reason);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        var connection = Interlocked.Exchange(ref _connection, null);
        if (connection is not null)
        {
            connection.ConnectionShutdownAsync -= OnShutdownAsync;
            connection.RecoverySucceededAsync -= OnRecoveredAsync;
            connection.ConnectionRecoveryErrorAsync -= OnRecoveryErrorAsync;
            try
            {
                // Bounded: a dead broker must not hold up shutdown. Closing requeues every unacknowledged delivery.
                await connection.CloseAsync(Constants.ReplySuccess, "Postbox consumers stopped", _options.ConnectionTimeout, abort: true,
                    CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Best effort: the broker requeues the deliveries of a dropped connection anyway.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                RabbitMQConsumerLog.CloseFailed(_logger, ex, "(connection)");
            }

            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _lock.Dispose();
    }
}
