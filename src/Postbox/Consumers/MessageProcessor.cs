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
internal sealed class MessageProcessor(IInboxStore store, IServiceScopeFactory scopes, TimeProvider timeProvider, ConsumerMetrics metrics, ILogger logger,
    FailureLogLimiter limiter, RetryWakeup wakeup)
{
    // Recording a failure must outlive shutdown's abort (else the attempt is lost and only redelivery saves it),
    // yet not hang on a dead database.
    private static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(30);

    public async Task<AttemptOutcome> ProcessAsync(HandlerRegistration handler, Delivery delivery, CancellationToken abort)
    {
        metrics.Received(handler);
        using var activity = ConsumerMetrics.StartProcessActivity(handler, delivery);
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
        var retryable = true;
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
                if (await EndedByHandlerAsync(inbox).ConfigureAwait(false))
                {
                    // The handler ended the transaction itself: the commit (or the handler's next statement) failed
                    // because of that, and the mistake is the thing to report.
                    failure = HandlerCompletedTransaction(handler, ex);
                    retryable = false;
                }
                else
                {
                    failure = await ExplainAsync(inbox, ex).ConfigureAwait(false);
                }
            }
        }

        return await FailAsync(handler, delivery, activity, started, failure, retryable).ConfigureAwait(false);
    }

    private async Task<bool> EndedByHandlerAsync(InboxTransaction inbox)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), timeProvider);
            return await inbox.IsEndedAsync(timeout.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Only a diagnosis: when it cannot be made, the original error is recorded as it is.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    private static HandlerMisuseException HandlerCompletedTransaction(HandlerRegistration handler, Exception? inner) => new(
        $"Handler {handler.HandlerType.Name} committed, rolled back or disposed the inbox transaction (MessageContext.Transaction) itself. The runtime "
        + "commits it after the handler returns, together with the inbox row that makes the message processed exactly once; a handler must "
        + "not end it (throw to fail the attempt). Not retried: fix the handler, then replay the dead letter.", inner);

    // What the store can add about the failure (e.g. a server timeout that ended the transaction); never fails itself.
    private async Task<Exception> ExplainAsync(InboxTransaction inbox, Exception error)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), timeProvider);
            return await inbox.ExplainAsync(error, timeout.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The explanation is a courtesy: the original error is recorded whatever happens to it.
        catch (Exception)
#pragma warning restore CA1031
        {
            return error;
        }
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

    /// <summary>
    /// Moves a delivery that waits in memory behind a busy key into the inbox (a hot key's backlog): parked behind the
    /// key's earlier messages, all of which are already recorded, so it can be acknowledged and free its prefetch. The
    /// retry scheduler is woken to run it once the key's earlier rows are finished. Exceptions mean the inbox was
    /// unreachable: the caller hands the delivery back.
    /// </summary>
    public async Task<AttemptOutcome> ParkBacklogAsync(HandlerRegistration handler, Delivery delivery)
    {
        using var activity = ConsumerMetrics.StartProcessActivity(handler, delivery);
        var now = timeProvider.GetUtcNow();
        var outcome = await ParkAsync(handler, delivery, delivery.Key!, now, activity).ConfigureAwait(false);
        if (outcome == AttemptOutcome.Parked)
        {
            wakeup.Schedule(now);
        }

        return outcome;
    }

    /// <summary>Records a failed attempt: the next one, or the dead letter when attempts are exhausted or cannot help.</summary>
    public async Task<AttemptOutcome> FailAsync(HandlerRegistration handler, Delivery delivery, Activity? activity, long started, Exception error, bool retryable)
    {
        var dead = !retryable || delivery.Attempt >= handler.Options.MaxAttempts;
        var now = timeProvider.GetUtcNow();
        DateTimeOffset? next = dead ? null : now + handler.Options.RetryPolicy.GetDelay(delivery.Attempt);
        using var timeout = new CancellationTokenSource(RecordTimeout, timeProvider);
        var recorded = await store.RecordFailureAsync(new InboxFailure(delivery.MessageId, handler.ConsumerName, delivery.Topic, delivery.Key, delivery.Type,
            delivery.Payload, delivery.Headers, delivery.Attempt, $"{error.GetType().FullName}: {error.Message}", now, next, delivery.Owner),
            timeout.Token).ConfigureAwait(false);

        metrics.Failed(handler, timeProvider.GetElapsedTime(started), dead);
        activity?.SetStatus(ActivityStatusCode.Error, error.Message);
        if (!recorded)
        {
            // The inbox already holds the message as processed (e.g. the handler committed the inbox transaction
            // itself), or another instance took its retry over: no next attempt was scheduled here, so say that
            // instead of "next attempt at".
            ConsumerLog.FailureNotRecorded(logger, error, delivery.MessageId, handler.ConsumerName, delivery.Attempt);
            return AttemptOutcome.Duplicate;
        }

        // One line per failure with the reason; the stack trace only when the failure is not a dependency's outage.
        var reason = FailureReason.Describe(error);
        var trace = FailureReason.IsExpected(error) ? null : error;
        if (dead)
        {
            ConsumerLog.DeadLettered(logger, trace, delivery.MessageId, handler.ConsumerName, delivery.Attempt, reason);
            return AttemptOutcome.DeadLettered;
        }

        wakeup.Schedule(next!.Value);
        if (limiter.ShouldLog(handler.ConsumerName, reason))
        {
            ConsumerLog.AttemptFailed(logger, trace, delivery.MessageId, handler.ConsumerName, delivery.Attempt, reason, next.Value);
        }

        return AttemptOutcome.RetryScheduled;
    }
}
