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
    private TransportUnavailableException? _lastError;
    private int _failedAttempts;
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
        return session is { IsUsable: true } ? ValueTask.FromResult(session) : new ValueTask<BrokerSession>(GetSessionSlowAsync(probe: false, cancellationToken));
    }

    /// <summary>
    /// Completes when a usable, unblocked connection exists, connecting now if there is none: while the client's
    /// automatic recovery would wait out <see cref="RabbitMQTransportOptions.ReconnectDelay"/>, a probe opens a fresh
    /// connection at once and replaces the recovering one, so the relay resumes as soon as the broker is back.
    /// </summary>
    /// <exception cref="TransportUnavailableException">No connection can be made, or the broker blocks it.</exception>
    public async ValueTask ProbeAsync(CancellationToken cancellationToken)
    {
        var session = Volatile.Read(ref _session);
        if (session is not { IsUsable: true })
        {
            session = await GetSessionSlowAsync(probe: true, cancellationToken).ConfigureAwait(false);
        }

        session.ThrowIfUnavailable();
        try
        {
            await session.PingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not TransportUnavailableException)
        {
            throw new TransportUnavailableException($"RabbitMQ at {Endpoint} does not answer on the connection (yet): {ex.Message}", ex);
        }

        session.ThrowIfUnavailable();
    }

    private async Task<BrokerSession> GetSessionSlowAsync(bool probe, CancellationToken cancellationToken)
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
                    if (!probe)
                    {
                        // Automatic recovery is at work: fail now rather than hold the relay's batch.
                        session.ThrowIfDown();
                        return session;
                    }

                    // A probe does not wait for the recovery interval: it tries a fresh connection now.
                    Log.ConnectionProbing(_logger, Endpoint, reason);
                }
                else
                {
                    Log.ConnectionReplaced(_logger, Endpoint, reason);
                }

                abandoned = session;
                _session = null;
            }

            if (_connecting is null)
            {
                var now = _timeProvider.GetUtcNow();
                if (_lastError is not null && now < _nextAttemptAt && !probe)
                {
                    throw new TransportUnavailableException(
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
        catch (TransportUnavailableException ex)
        {
            // The attempt is shared by every waiter: give each its own exception instance.
            throw new TransportUnavailableException(ex.Message, ex.InnerException);
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
                    _failedAttempts = 0;
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
            var error = new TransportUnavailableException($"Could not connect to RabbitMQ at {Endpoint}: {Describe(ex)}", ex);
            int failures;
            lock (_gate)
            {
                _connecting = null;
                _lastError = error;
                _nextAttemptAt = _timeProvider.GetUtcNow() + _options.ReconnectDelay;
                failures = ++_failedAttempts;
            }

            // Once per outage as a warning (an expected failure: no stack trace); the relay probes twice a second.
            if (failures == 1)
            {
                Log.ConnectFailed(_logger, Endpoint, Describe(ex), _options.ReconnectDelay);
            }
            else
            {
                Log.ConnectStillFailing(_logger, Endpoint, failures, Describe(ex));
            }

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
