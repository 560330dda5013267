using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Postbox.Relay;

namespace Postbox.Consumers;

/// <summary>
/// Runs one handling attempt: inbox transaction, scoped handler, commit; on failure records the next attempt (or the
/// dead letter) before the caller acknowledges the delivery. Exceptions escaping it mean the inbox was unreachable:
/// the caller hands the delivery back.
/// </summary>
internal sealed class MessageProcessor(IInboxStore store, IServiceScopeFactory scopes, TimeProvider timeProvider, ConsumerMetrics metrics, ILogger logger)
{
    // Recording a failure must outlive shutdown's abort (else the attempt is lost and only redelivery saves it),
    // yet not hang on a dead database.
    private static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(30);

    public async Task<AttemptOutcome> ProcessAsync(HandlerRegistration handler, Delivery delivery, CancellationToken abort)
    {
        metrics.Received(handler);
        using var activity = ConsumerMetrics.StartProcessActivity(handler, delivery.MessageId, delivery.Headers, delivery.Attempt);
        var started = timeProvider.GetTimestamp();

        object? message;
        try
        {
            message = handler.Deserialize(delivery.Payload);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            // A payload that cannot be read now never will: no retry can help.
            return await FailAsync(handler, delivery, activity, started,
                new InvalidDataException($"The payload is not a valid {handler.MessageType.Name}: {ex.Message}", ex), retryable: false).ConfigureAwait(false);
        }

        if (message is null)
        {
            return await FailAsync(handler, delivery, activity, started,
                new InvalidDataException($"The payload is JSON null; {handler.MessageType.Name} expected."), retryable: false).ConfigureAwait(false);
        }

        var now = timeProvider.GetUtcNow();
        InboxTransaction? inbox;
        if (delivery.Owner is not null)
        {
            inbox = await store.BeginRetryAsync(delivery.MessageId, handler.ConsumerName, delivery.Owner, now, abort).ConfigureAwait(false);
        }
        else if (delivery.Key is { } key && handler.OrdersByKey)
        {
            // One statement checks the key and records the message: no extra round trip on the usual path.
            var begin = await store.BeginInKeyOrderAsync(delivery.MessageId, handler.ConsumerName, delivery.Topic, key,
                handler.Options.DeadKeyPolicy == DeadKeyPolicy.Block, now, abort).ConfigureAwait(false);
            if (begin.KeyBlocked)
            {
                return await ParkAsync(handler, delivery, key, now, activity).ConfigureAwait(false);
            }

            inbox = begin.Transaction;
        }
        else
        {
            inbox = await store.BeginAsync(delivery.MessageId, handler.ConsumerName, delivery.Topic, now, abort).ConfigureAwait(false);
        }

        if (inbox is null)
        {
            metrics.Duplicate(handler);
            activity?.SetTag("postbox.duplicate", true);
            ConsumerLog.Duplicate(logger, delivery.MessageId, handler.ConsumerName);
            return AttemptOutcome.Duplicate;
        }

        Exception failure;
        await using (inbox.ConfigureAwait(false))
        {
            using var timeout = new CancellationTokenSource(handler.Options.Timeout, timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(abort, timeout.Token);
            try
            {
                var context = new MessageContext(delivery.MessageId, delivery.Topic, delivery.Type, delivery.Key, delivery.Headers,
                    delivery.Attempt, handler.ConsumerName, delivery.Redelivered, inbox.Transaction);
                var scope = scopes.CreateAsyncScope();
                await using (scope.ConfigureAwait(false))
                {
                    await handler.Handle(scope.ServiceProvider, message, context, linked.Token).ConfigureAwait(false);
                }

                // Not the abort token: once the handler is done, committing is quick and an interrupted commit
                // would leave the outcome unknown.
                await inbox.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                metrics.Succeeded(handler, timeProvider.GetElapsedTime(started));
                return AttemptOutcome.Succeeded;
            }
            catch (Exception) when (abort.IsCancellationRequested)
            {
                // Shutdown ran out of time: not the message's fault, so no attempt is counted.
                activity?.SetTag("postbox.handed_back", true);
                return AttemptOutcome.HandedBack;
            }
            catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
            {
                failure = new TimeoutException($"The handler did not finish within its timeout of {handler.Options.Timeout}.", ex);
            }
#pragma warning disable CA1031 // Any handler failure becomes a recorded, retried attempt.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }
        }

        return await FailAsync(handler, delivery, activity, started, failure, retryable: true).ConfigureAwait(false);
    }

    /// <summary>
    /// An earlier message of the key is unfinished for this consumer (retrying, parked, or dead under Block): the message
    /// is kept in the inbox behind it and acknowledged, so it holds no prefetch slot while it waits; the retry scheduler
    /// runs it once everything before it is finished.
    /// </summary>
    private async Task<AttemptOutcome> ParkAsync(HandlerRegistration handler, Delivery delivery, string key, DateTimeOffset now, Activity? activity)
    {
        using var timeout = new CancellationTokenSource(RecordTimeout, timeProvider);
        var parked = await store.ParkAsync(new InboxParking(delivery.MessageId, handler.ConsumerName, delivery.Topic, key, delivery.Type,
            delivery.Payload, delivery.Headers, now), timeout.Token).ConfigureAwait(false);
        if (!parked)
        {
            metrics.Duplicate(handler);
            activity?.SetTag("postbox.duplicate", true);
            ConsumerLog.Duplicate(logger, delivery.MessageId, handler.ConsumerName);
            return AttemptOutcome.Duplicate;
        }

        metrics.Parked(handler);
        activity?.SetTag("postbox.parked", true);
        ConsumerLog.Parked(logger, delivery.MessageId, handler.ConsumerName, key);
        return AttemptOutcome.Parked;
    }

    /// <summary>Records a failed attempt: the next one, or the dead letter when retries are exhausted or cannot help.</summary>
    public async Task<AttemptOutcome> FailAsync(HandlerRegistration handler, Delivery delivery, Activity? activity, long started, Exception error, bool retryable)
    {
        var dead = !retryable || delivery.Attempt > handler.Options.MaxRetries;
        var now = timeProvider.GetUtcNow();
        DateTimeOffset? next = dead ? null : now + handler.Options.RetryPolicy.GetDelay(delivery.Attempt);
        using var timeout = new CancellationTokenSource(RecordTimeout, timeProvider);
        await store.RecordFailureAsync(new InboxFailure(delivery.MessageId, handler.ConsumerName, delivery.Topic, delivery.Key, delivery.Type,
            delivery.Payload, delivery.Headers, delivery.Attempt, $"{error.GetType().FullName}: {error.Message}", now, next, delivery.Owner),
            timeout.Token).ConfigureAwait(false);

        metrics.Failed(handler, timeProvider.GetElapsedTime(started), dead);
        activity?.SetStatus(ActivityStatusCode.Error, error.Message);
        if (dead)
        {
            ConsumerLog.DeadLettered(logger, error, delivery.MessageId, handler.ConsumerName, delivery.Attempt);
            return AttemptOutcome.DeadLettered;
        }

        ConsumerLog.AttemptFailed(logger, error, delivery.MessageId, handler.ConsumerName, delivery.Attempt, next!.Value);
        return AttemptOutcome.RetryScheduled;
    }
}
