using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Postbox.Diagnostics;
using Postbox.Storage;
using Postbox.Transport;

namespace Postbox.Relay;

/// <summary>
/// Publishes one claimed batch and turns the broker's answers into a <see cref="SettleRequest"/>.
/// Messages without a key are all pipelined at once; the messages of one key form a chain published
/// one after the other, so a failure stops its key (the rest is released unattempted) while other
/// keys go on. A <see cref="TransportUnavailableException"/> is not the message's failure: the message is
/// released without an attempt, the outage is reported to <see cref="TransportOutage"/>, and nothing more of the
/// batch is published until the transport is back.
/// </summary>
internal sealed class BatchPublisher
{
    private const int MaxErrorLength = 2000;

    private readonly IOutboxTransport _transport;
    private readonly RelayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly PostboxMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TransportOutage _outage;
    private readonly SuspectMessages _suspects;

    public BatchPublisher(IOutboxTransport transport, RelayOptions options, TimeProvider timeProvider, PostboxMetrics metrics, ILogger logger,
        TransportOutage outage, SuspectMessages suspects)
    {
        (_transport, _options, _timeProvider, _metrics, _logger) = (transport, options, timeProvider, metrics, logger);
        (_outage, _suspects) = (outage, suspects);
    }

    /// <summary>How long the probe that decides whether an isolated message broke the connection may take.</summary>
    internal static TimeSpan CulpritProbeTimeout { get; } = TimeSpan.FromSeconds(5);

    /// <summary>Publishes <paramref name="batch"/>; never throws for a publish failure.</summary>
    /// <param name="owner">The lease owner.</param>
    /// <param name="batch">Claimed messages in sequence order.</param>
    /// <param name="abort">Cancelled on hard shutdown: unconfirmed messages are then released, not failed.</param>
    public async Task<SettleRequest> PublishAsync(string owner, IReadOnlyList<OutboxEnvelope> batch, CancellationToken abort)
    {
        var delivered = new ConcurrentBag<Guid>();
        var failed = new ConcurrentBag<DeliveryFailure>();
        var released = new ConcurrentBag<Guid>();

        // Topology first (queues of new topics), outside the publish timeout: it is not a publish attempt.
        if (!await PrepareAsync(batch, abort).ConfigureAwait(false))
        {
            foreach (var message in batch)
            {
                released.Add(message.Id);
                _outage.Skipped();
            }

            return new SettleRequest(owner, _timeProvider.GetUtcNow(), [], [], [.. released], DeleteDelivered: false);
        }

        using var timeout = new CancellationTokenSource(_options.PublishTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, abort);
        var token = linked.Token;
        var tasks = new List<Task>(batch.Count);
        Dictionary<string, List<OutboxEnvelope>>? chains = null;

        foreach (var message in batch)
        {
            if (message.Key is null)
            {
                tasks.Add(PublishOneAsync(message, delivered, failed, released, abort, token));
            }
            else
            {
                chains ??= new Dictionary<string, List<OutboxEnvelope>>(StringComparer.Ordinal);
                if (!chains.TryGetValue(message.Key, out var chain))
                {
                    chains[message.Key] = chain = [];
                }

                chain.Add(message);
            }
        }

        if (chains is not null)
        {
            foreach (var chain in chains.Values)
            {
                tasks.Add(PublishChainAsync(chain, delivered, failed, released, abort, token));
            }
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        if (!delivered.IsEmpty && _logger.IsEnabled(LogLevel.Debug))
        {
            // What the customers system's relay logged ("Published messages: [...]"), for tracing one message by id.
            Log.BatchPublished(_logger, delivered.Count, string.Join(", ", delivered));
        }

        return new SettleRequest(owner, _timeProvider.GetUtcNow(), [.. delivered], [.. failed], [.. released],
            DeleteDelivered: _options.DeliveredRetention == TimeSpan.Zero);
    }

    private async Task PublishChainAsync(List<OutboxEnvelope> chain, ConcurrentBag<Guid> delivered, ConcurrentBag<DeliveryFailure> failed,
        ConcurrentBag<Guid> released, CancellationToken abort, CancellationToken token)
    {
        // Claims return messages in sequence order, so the chain is already in enqueue order.
        for (var i = 0; i < chain.Count; i++)
        {
            if (!await PublishOneAsync(chain[i], delivered, failed, released, abort, token).ConfigureAwait(false))
            {
                var down = _outage.IsDown;
                for (var j = i + 1; j < chain.Count; j++)
                {
                    released.Add(chain[j].Id);
                    if (down)
                    {
                        _outage.Skipped();
                    }
                }

                return;
            }
        }
    }

    /// <summary>Declares what the batch's topics need; <see langword="false"/> when the transport is unavailable.</summary>
    private async Task<bool> PrepareAsync(IReadOnlyList<OutboxEnvelope> batch, CancellationToken abort)
    {
        if (_outage.IsDown)
        {
            return false;
        }

        var topics = new HashSet<string>(StringComparer.Ordinal);
        foreach (var message in batch)
        {
            topics.Add(message.Topic);
        }

        try
        {
            await _transport.PrepareAsync(topics, abort).ConfigureAwait(false);
            return true;
        }
        catch (TransportUnavailableException ex) when (!abort.IsCancellationRequested)
        {
            _outage.Report(null, ex);
            return false;
        }
        catch (Exception ex) when (!abort.IsCancellationRequested)
        {
            // Not fatal: each publish declares what it still needs and reports a failure for its own message.
            Log.PrepareFailed(_logger, ex, topics.Count);
            return true;
        }
        catch (Exception) when (abort.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<bool> PublishOneAsync(OutboxEnvelope message, ConcurrentBag<Guid> delivered, ConcurrentBag<DeliveryFailure> failed,
        ConcurrentBag<Guid> released, CancellationToken abort, CancellationToken token)
    {
        if (_outage.IsDown)
        {
            // The transport is down: do not even try (no connection attempts, no attempt charged).
            released.Add(message.Id);
            _outage.Skipped();
            return false;
        }

        if (_suspects.Any && _suspects.IsIsolated(message.Id))
        {
            return await PublishIsolatedAsync(message, delivered, failed, released, abort).ConfigureAwait(false);
        }

        using var activity = MessagingTracing.StartSend(message, _timeProvider.GetUtcNow());
        try
        {
            await _transport.PublishAsync(MessagingTracing.WithSendContext(message, activity), token).ConfigureAwait(false);
            delivered.Add(message.Id);
            if (_suspects.Any)
            {
                _suspects.Cleared(message.Id);
            }

            _metrics.Published(message.Topic, message.CreatedAt);
            return true;
        }
        catch (Exception ex) when (abort.IsCancellationRequested)
        {
            // Hard shutdown: not the message's fault, so it costs no attempt. It may still have reached the
            // broker; consumers deduplicate by message id.
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            released.Add(message.Id);
            return false;
        }
        catch (TransportUnavailableException ex)
        {
            // The transport as a whole failed: not the message's fault, so it costs no attempt.
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            released.Add(message.Id);
            _outage.Report(message.Id, ex);
            return false;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            failed.Add(RecordFailure(message, ex, token.IsCancellationRequested));
            return false;
        }
    }

    /// <summary>
    /// Publishes a message suspected of breaking the connection while no other suspect is in flight, with its own
    /// publish timeout (waiting for its turn is not part of its attempt). If the connection fails under it and the
    /// transport answers a probe at once, the message broke it: it is charged the attempt.
    /// </summary>
    private async Task<bool> PublishIsolatedAsync(OutboxEnvelope message, ConcurrentBag<Guid> delivered, ConcurrentBag<DeliveryFailure> failed,
        ConcurrentBag<Guid> released, CancellationToken abort)
    {
        try
        {
            await _suspects.Gate.WaitAsync(abort).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            released.Add(message.Id);
            return false;
        }

        using var activity = MessagingTracing.StartSend(message, _timeProvider.GetUtcNow());
        using var timeout = new CancellationTokenSource(_options.PublishTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, abort);
        try
        {
            if (_outage.IsDown)
            {
                released.Add(message.Id);
                _outage.Skipped();
                return false;
            }

            await _transport.PublishAsync(MessagingTracing.WithSendContext(message, activity), linked.Token).ConfigureAwait(false);
            delivered.Add(message.Id);
            _suspects.Cleared(message.Id);
            _metrics.Published(message.Topic, message.CreatedAt);
            return true;
        }
        catch (Exception ex) when (abort.IsCancellationRequested)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            released.Add(message.Id);
            return false;
        }
        catch (TransportUnavailableException ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            if (!ex.BeforePublish && await ProbeAsync(abort).ConfigureAwait(false))
            {
                failed.Add(RecordFailure(message, new TransportException(
                    "The transport's connection failed while this message was the only suspect in flight, and the broker was reachable again " +
                    "at once: publishing this message breaks the connection (a broker limit, e.g. on the size of its headers), so it is charged the attempt.",
                    ex), timedOut: false));
            }
            else
            {
                released.Add(message.Id);
                _outage.Report(message.Id, ex);
            }

            return false;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            failed.Add(RecordFailure(message, ex, timeout.IsCancellationRequested));
            return false;
        }
        finally
        {
            _suspects.Gate.Release();
        }
    }

    private async Task<bool> ProbeAsync(CancellationToken abort)
    {
        using var timeout = new CancellationTokenSource(CulpritProbeTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, abort);
        try
        {
            await _transport.ProbeAsync(linked.Token).ConfigureAwait(false);
            return true;
        }
#pragma warning disable CA1031 // Any failure of the probe means "not reachable at once": the message is then not blamed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.TransportProbeFailed(_logger, ex.Message);
            return false;
        }
    }

    private DeliveryFailure RecordFailure(OutboxEnvelope message, Exception exception, bool timedOut)
    {
        var attempt = message.Attempts + 1;
        var maxAttempts = message.MaxAttempts ?? _options.MaxAttempts;
        var permanent = exception is TransportException { IsTransient: false };
        var dead = permanent || attempt >= maxAttempts;
        var now = _timeProvider.GetUtcNow();
        var next = now + _options.RetryPolicy.GetDelay(attempt);
        var error = Describe(exception, timedOut);
        // The publish timeout's own cancellation says all there is to say; its stack trace is the relay's, not a cause.
        var noConfirm = timedOut && exception is OperationCanceledException;

        if (dead)
        {
            _metrics.Dead(message.Topic);
            if (noConfirm)
            {
                Log.MessageDeadAfterTimeout(_logger, message.Id, message.Topic, attempt, _options.PublishTimeout);
            }
            else
            {
                Log.MessageDead(_logger, exception, message.Id, message.Topic, attempt);
            }
        }
        else
        {
            _metrics.Failed(message.Topic);
            if (noConfirm)
            {
                Log.PublishTimedOut(_logger, message.Id, message.Topic, _options.PublishTimeout, attempt, maxAttempts, next);
            }
            else
            {
                Log.PublishFailed(_logger, exception, message.Id, message.Topic, attempt, maxAttempts, next);
            }
        }

        return new DeliveryFailure(message.Id, error, next, dead);
    }

    private string Describe(Exception exception, bool timedOut)
    {
        var text = timedOut && exception is OperationCanceledException
            ? $"No broker confirm within {_options.PublishTimeout}."
            : $"{exception.GetType().Name}: {exception.Message}";
        for (var inner = exception.InnerException; inner is not null && text.Length < MaxErrorLength; inner = inner.InnerException)
        {
            text += $" ---> {inner.GetType().Name}: {inner.Message}";
        }

        return text.Length <= MaxErrorLength ? text : text[..MaxErrorLength];
    }
}
