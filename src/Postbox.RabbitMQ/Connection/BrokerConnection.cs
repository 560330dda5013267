using Microsoft.Extensions.Logging;
using Postbox.RabbitMQ.Diagnostics;
using Postbox.Transport;
using RabbitMQ.Client;

namespace Postbox.RabbitMQ.Connection;

/// <summary>
/// Owns the current <see cref="BrokerSession"/>: connects lazily on first use, at most one attempt at a time
/// (concurrent callers share it), fails fast during the back-off after a failed attempt, and replaces a
/// connection that cannot recover.
/// </summary>
internal sealed class BrokerConnection : IAsyncDisposable
{
    private readonly RabbitMQTransportOptions _options;
    private readonly ConnectionFactory _factory;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _disposed = new();
    private BrokerSession? _session;
    private Task<BrokerSession>? _connecting;
    private TransportException? _lastError;
    private DateTimeOffset _nextAttemptAt;
    private bool _isDisposed;

    public BrokerConnection(RabbitMQTransportOptions options, TimeProvider timeProvider, ILogger logger)
    {
        (_options, _timeProvider, _logger) = (options, timeProvider, logger);
        _factory = ConnectionFactories.Create(options.ConnectionString, options.ClientProvidedName, options.ReconnectDelay, options.ConnectionTimeout);

        // Never the URI itself: it may carry a password.
        Endpoint = $"{_factory.HostName}:{_factory.Port}{(_factory.VirtualHost == "/" ? "/" : "/" + _factory.VirtualHost)}";
    }

    /// <summary>Host, port and virtual host, for messages and logs (no credentials).</summary>
    public string Endpoint { get; }

    public ValueTask<BrokerSession> GetSessionAsync(CancellationToken cancellationToken)
    {
        var session = Volatile.Read(ref _session);
        return session is { IsUsable: true } ? ValueTask.FromResult(session) : new ValueTask<BrokerSession>(GetSessionSlowAsync(cancellationToken));
    }

    private async Task<BrokerSession> GetSessionSlowAsync(CancellationToken cancellationToken)
    {
        Task<BrokerSession> connecting;
        BrokerSession? abandoned = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_isDisposed, this);
            var session = _session;
            if (session is not null)
            {
                if (session.IsUsable)
                {
                    return session;
                }

                if (!session.IsLost(out var reason))
                {
                    // Automatic recovery is at work: fail now (transient) rather than hold the relay's batch.
                    session.ThrowIfDown();
                    return session;
                }

                Log.ConnectionReplaced(_logger, Endpoint, reason);
                abandoned = session;
                _session = null;
            }

            if (_connecting is null)
            {
                var now = _timeProvider.GetUtcNow();
                if (_lastError is not null && now < _nextAttemptAt)
                {
                    throw new TransportException(
                        $"{_lastError.Message} Next connection attempt in {(_nextAttemptAt - now).TotalSeconds:0.0} s.", _lastError.InnerException);
                }

                _connecting = ConnectAsync();
            }

            connecting = _connecting;
        }

        if (abandoned is not null)
        {
            await abandoned.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            return await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TransportException ex)
        {
            // The attempt is shared by every waiter: give each its own exception instance.
            throw new TransportException(ex.Message, ex.InnerException, ex.IsTransient);
        }
    }

    private async Task<BrokerSession> ConnectAsync()
    {
        // Leave the caller's lock before doing any I/O.
        await Task.Yield();
        try
        {
            // Not the caller's token: the attempt is shared. The connection timeouts bound it; this is a backstop.
            using var timeout = new CancellationTokenSource(_options.ConnectionTimeout * 3, _timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _disposed.Token);
            var session = await BrokerSession.OpenAsync(_factory, _options, Endpoint, _timeProvider, _logger, linked.Token).ConfigureAwait(false);
            bool disposed;
            lock (_gate)
            {
                disposed = _isDisposed;
                if (!disposed)
                {
                    _session = session;
                    _connecting = null;
                    _lastError = null;
                }
            }

            if (disposed)
            {
                await session.DisposeAsync().ConfigureAwait(false);
                throw new ObjectDisposedException(nameof(RabbitMQTransport));
            }

            Log.Connected(_logger, Endpoint, _options.ClientProvidedName, _options.ExchangeName, _options.PublishChannels);
            return session;
        }
        catch (Exception ex) when (ex is not ObjectDisposedException)
        {
            var error = new TransportException($"Could not connect to RabbitMQ at {Endpoint}: {Describe(ex)}", ex);
            lock (_gate)
            {
                _connecting = null;
                _lastError = error;
                _nextAttemptAt = _timeProvider.GetUtcNow() + _options.ReconnectDelay;
            }

            Log.ConnectFailed(_logger, ex, Endpoint, _options.ReconnectDelay);
            throw error;
        }
    }

    private static string Describe(Exception exception)
    {
        // BrokerUnreachableException says little by itself; the socket error is in the inner exception.
        var text = exception.Message;
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            text += " " + inner.Message;
        }

        return text;
    }

    public async ValueTask DisposeAsync()
    {
        BrokerSession? session;
        Task? connecting;
        lock (_gate)
        {
            if (_isDisposed)
            {
                return;
            }

            _isDisposed = true;
            session = _session;
            _session = null;
            connecting = _connecting;
        }

        // Outside the lock: cancellation runs the connect attempt's continuations, which take the lock.
        await _disposed.CancelAsync().ConfigureAwait(false);
        if (connecting is not null)
        {
            // The attempt sees the cancellation and disposes what it opened; its outcome no longer matters.
            await connecting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (session is not null)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        _disposed.Dispose();
    }
}
