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
/// keys go on.
/// </summary>
internal sealed class BatchPublisher
{
    private const int MaxErrorLength = 2000;

    private readonly IOutboxTransport _transport;
    private readonly RelayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly PostboxMetrics _metrics;
    private readonly ILogger _logger;

    public BatchPublisher(IOutboxTransport transport, RelayOptions options, TimeProvider timeProvider, PostboxMetrics metrics, ILogger logger)
    {
        (_transport, _options, _timeProvider, _metrics, _logger) = (transport, options, timeProvider, metrics, logger);
    }

    /// <summary>Publishes <paramref name="batch"/>; never throws for a publish failure.</summary>
    /// <param name="owner">The lease owner.</param>
    /// <param name="batch">Claimed messages in sequence order.</param>
    /// <param name="abort">Cancelled on hard shutdown: unconfirmed messages are then released, not failed.</param>
    public async Task<SettleRequest> PublishAsync(string owner, IReadOnlyList<OutboxEnvelope> batch, CancellationToken abort)
    {
        using var timeout = new CancellationTokenSource(_options.PublishTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, abort);
        var token = linked.Token;

        var delivered = new ConcurrentBag<Guid>();
        var failed = new ConcurrentBag<DeliveryFailure>();
        var released = new ConcurrentBag<Guid>();
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
                for (var j = i + 1; j < chain.Count; j++)
                {
                    released.Add(chain[j].Id);
                }

                return;
            }
        }
    }

    private async Task<bool> PublishOneAsync(OutboxEnvelope message, ConcurrentBag<Guid> delivered, ConcurrentBag<DeliveryFailure> failed,
        ConcurrentBag<Guid> released, CancellationToken abort, CancellationToken token)
    {
        using var activity = PostboxMetrics.StartPublishActivity(message);
        try
        {
            await _transport.PublishAsync(message, token).ConfigureAwait(false);
            delivered.Add(message.Id);
            _metrics.Published(message.Topic, 1);
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
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            failed.Add(RecordFailure(message, ex, token.IsCancellationRequested));
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

        if (dead)
        {
            _metrics.Dead(message.Topic);
            Log.MessageDead(_logger, exception, message.Id, message.Topic, attempt);
        }
        else
        {
            _metrics.Failed(message.Topic);
            Log.PublishFailed(_logger, exception, message.Id, message.Topic, attempt, maxAttempts, next);
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
