using Microsoft.Extensions.Logging;

namespace Postbox.Consumers;

/// <summary>
/// Runs one handler: subscribes, takes deliveries while a concurrency slot is free, and settles each delivery after
/// its outcome is committed. Retries claimed by <see cref="RetryScheduler"/> share the same slots.
/// </summary>
/// <remarks>
/// Ordering by key: a delivery whose key is already being handled does not take a slot; it waits in that key's queue
/// (in memory, bounded by the prefetch) and runs on the same slot right after the one before it, so a key's messages run
/// one at a time in arrival order while other keys use the other slots. A key held by a retry is the inbox's business:
/// the next delivery of the key finds the retrying row and is parked behind it (see <see cref="MessageProcessor"/>).
/// <para>
/// A hot key: when a key's message finishes with <see cref="ParkThreshold"/> or more deliveries waiting behind it in
/// memory, those (and the ones that arrive while they are moved) are parked in the inbox in order and acknowledged, so
/// they stop holding the prefetch that other keys need; the retry scheduler runs them in order. Only after the running
/// message's outcome is committed: every earlier message of the key is then in the inbox, so a crash cannot let a
/// redelivered earlier message queue up behind its parked successors.
/// </para>
/// <para>
/// A hand-back (inbox unreachable) puts a hand-back barrier on the key: later deliveries of the key that reach this
/// worker before the handed-back ones come back are handed back too, so nothing of the key runs ahead of them.
/// </para>
/// </remarks>
internal sealed class HandlerWorker(HandlerRegistration handler, MessageProcessor processor, TimeProvider timeProvider, ILogger logger,
    FailureLogLimiter limiter, Func<CancellationToken, Task> whilePaused) : IDisposable
{
    private static readonly TimeSpan HandBackPause = TimeSpan.FromSeconds(1);

    // A handed-back delivery that never comes back to this worker (another consumer took it, the broker dropped it)
    // must not hold its key here forever: the barrier lapses after this long without any of its deliveries returning.
    private static readonly TimeSpan BarrierLapse = TimeSpan.FromSeconds(30);

    // Pause before handing back a delivery held by a barrier, so a key whose head is away does not spin the read loop.
    private static readonly TimeSpan BarrierPause = TimeSpan.FromMilliseconds(100);

    private readonly List<Task> _inFlight = [];

    // Keys being handled, each with the deliveries waiting behind the running one (arrival order). Guarded by itself,
    // which also guards _barriers.
    private readonly Dictionary<string, Queue<IncomingMessage>> _busyKeys = new(StringComparer.Ordinal);

    // Keys with handed-back deliveries not back yet: the ids, and when the barrier last changed.
    private readonly Dictionary<string, HandBackBarrier> _barriers = new(StringComparer.Ordinal);

    // Hand-backs of held deliveries, one after another in arrival order.
    private Task _heldChain = Task.CompletedTask;
    private IConsumerSubscription? _subscription;
    // Intake is paused while either the whole process is (SIGTSTP, IConsumerControl) or this consumer is in the store.
    private readonly SemaphoreSlim _pauseControl = new(1, 1);
    private volatile bool _processPaused;
    private volatile bool _storePaused;
    private bool _subscriptionPaused;
    // Completed while the store does not pause this consumer; a pending one while it does.
    private TaskCompletionSource _storeResumed = CompletedSource();
    private CancellationToken _stopIntake;

    public HandlerRegistration Handler => handler;

    /// <summary>
    /// Deliveries waiting in memory behind a key's running message from which that backlog is parked in the inbox
    /// instead: half the concurrency, at least 2.
    /// </summary>
    public int ParkThreshold { get; } = Math.Max(2, handler.Options.Concurrency / 2);

    /// <summary>Free handling slots; held by deliveries and retries alike.</summary>
    public SemaphoreSlim Slots { get; } = new(handler.Options.Concurrency, handler.Options.Concurrency);

    public IConsumerSubscription? Subscription => Volatile.Read(ref _subscription);

    /// <summary>Whether this handler's consumer is paused in the store (IPostboxPauses): the retry scheduler claims none of its retries.</summary>
    public bool StorePaused => _storePaused;

    /// <summary>Tasks of attempts not finished yet.</summary>
    public Task[] InFlight
    {
        get
        {
            lock (_inFlight)
            {
                _inFlight.RemoveAll(static t => t.IsCompleted);
                return [.. _inFlight];
            }
        }
    }

    public void Track(Task task)
    {
        lock (_inFlight)
        {
            _inFlight.RemoveAll(static t => t.IsCompleted);
            _inFlight.Add(task);
        }
    }

    /// <summary>Subscribes (retrying while the broker is unreachable) and feeds deliveries until intake stops.</summary>
    public async Task RunAsync(IConsumerSource source, Func<bool> isPaused, CancellationToken stopIntake, CancellationToken abort)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        IConsumerSubscription subscription;
        while (true)
        {
            try
            {
                subscription = await source.SubscribeAsync(
                    new ConsumerSubscriptionRequest(handler.Topic, handler.ConsumerName, handler.Options.Queue, handler.Prefetch),
                    stopIntake).ConfigureAwait(false);
                break;
            }
            catch (OperationCanceledException) when (stopIntake.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The broker unreachable is expected (it restarts, it is slow to start): one line, no stack trace.
                ConsumerLog.SubscribeFailed(logger, FailureReason.IsExpected(ex) ? null : ex, handler.ConsumerName, handler.Topic, FailureReason.Describe(ex), delay);
                try
                {
                    await Task.Delay(delay, timeProvider, stopIntake).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }

        _stopIntake = stopIntake;
        Volatile.Write(ref _subscription, subscription);
        ConsumerLog.Subscribed(logger, handler.ConsumerName, handler.Topic, handler.Options.Concurrency, handler.Options.Timeout, handler.Options.MaxAttempts);
        if (isPaused())
        {
            _processPaused = true;
        }

        await ApplyPauseAsync(stopIntake).ConfigureAwait(false);
        var reader = subscription.Messages;
        try
        {
            while (await reader.WaitToReadAsync(stopIntake).ConfigureAwait(false))
            {
                // Take a slot before taking the message, so undispatched deliveries stay in the subscription's
                // buffer, where shutdown finds and requeues them.
                await Slots.WaitAsync(stopIntake).ConfigureAwait(false);
                // Paused (SIGTSTP): nothing new starts, not even what the transport had already handed over; it waits
                // here, unsettled, until intake resumes or shutdown hands it back.
                try
                {
                    await WhilePausedAsync(stopIntake).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Slots.Release();
                    throw;
                }

                if (!reader.TryRead(out var message))
                {
                    Slots.Release();
                    continue;
                }

                var key = handler.OrdersByKey ? message.Key : null;
                if (key is not null)
                {
                    var held = false;
                    lock (_busyKeys)
                    {
                        held = HeldByBarrier(key, message);
                        if (!held)
                        {
                            if (_busyKeys.TryGetValue(key, out var waiting))
                            {
                                // Runs after the key's earlier deliveries, on their slot.
                                waiting.Enqueue(message);
                                Slots.Release();
                                continue;
                            }

                            _busyKeys[key] = new Queue<IncomingMessage>();
                        }
                    }

                    if (held)
                    {
                        Slots.Release();
                        Track(HandBackHeldAsync(message));
                        continue;
                    }
                }

                Track(ProcessDeliveriesAsync(message, key, abort));
            }
        }
        catch (OperationCanceledException) when (stopIntake.IsCancellationRequested)
        {
            // Intake stopped: shutdown drains in-flight work.
        }
    }

    /// <summary>Releases the pause lock (the runtime disposes its workers when it is disposed, after they stopped).</summary>
    public void Dispose() => _pauseControl.Dispose();

    /// <summary>Pauses or resumes intake for the whole process (SIGTSTP, IConsumerControl, shutdown).</summary>
    public Task SetPausedAsync(bool paused, CancellationToken cancellationToken)
    {
        _processPaused = paused;
        return ApplyPauseAsync(cancellationToken);
    }

    /// <summary>
    /// Pauses or resumes this consumer as the store says (IPostboxPauses): its subscription stops delivering, deliveries
    /// already handed over wait unstarted, and the retry scheduler leaves its retries alone.
    /// </summary>
    /// <returns><see langword="true"/> when the state changed.</returns>
    public async Task<bool> SetStorePausedAsync(bool paused, CancellationToken cancellationToken)
    {
        if (_storePaused == paused)
        {
            return false;
        }

        _storePaused = paused;
        lock (_pauseControl)
        {
            if (paused)
            {
                _storeResumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            else
            {
                _storeResumed.TrySetResult();
            }
        }

        await ApplyPauseAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.SetResult();
        return source;
    }

    private async Task WhilePausedAsync(CancellationToken cancellationToken)
    {
        await whilePaused(cancellationToken).ConfigureAwait(false);
        Task resumed;
        lock (_pauseControl)
        {
            resumed = _storeResumed.Task;
        }

        if (!resumed.IsCompleted)
        {
            await resumed.WaitAsync(cancellationToken).ConfigureAwait(false);
            await whilePaused(cancellationToken).ConfigureAwait(false);
        }
    }

    // The subscription is paused while either pause holds, and told only when that changes.
    private async Task ApplyPauseAsync(CancellationToken cancellationToken)
    {
        if (Subscription is not { } subscription)
        {
            return; // Not subscribed yet: RunAsync applies the pause after subscribing.
        }

        await _pauseControl.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var paused = _processPaused || _storePaused;
            if (paused == _subscriptionPaused)
            {
                return;
            }

            if (paused)
            {
                await subscription.PauseAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await subscription.ResumeAsync(cancellationToken).ConfigureAwait(false);
            }

            _subscriptionPaused = paused;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ConsumerLog.IntakeControlFailed(logger, ex, handler.ConsumerName);
        }
        finally
        {
            _pauseControl.Release();
        }
    }

    /// <summary>Requeues deliveries that were buffered but never started, then closes the subscription.</summary>
    public async Task<int> CloseAsync()
    {
        var subscription = Interlocked.Exchange(ref _subscription, null);
        if (subscription is null)
        {
            return 0;
        }

        // Everything delivered but not started: first what waited behind a busy key, then the unread buffer. Taken out
        // before requeueing, since a source may requeue into that same buffer (the in-memory one does).
        List<IncomingMessage> unstarted;
        lock (_busyKeys)
        {
            unstarted = [.. _busyKeys.Values.SelectMany(static q => q)];
            _busyKeys.Clear();
        }

        while (subscription.Messages.TryRead(out var message))
        {
            unstarted.Add(message);
        }

        foreach (var message in unstarted)
        {
            await SettleAsync(message, requeue: true).ConfigureAwait(false);
        }

        var requeued = unstarted.Count;

        await subscription.DisposeAsync().ConfigureAwait(false);
        return requeued;
    }

    /// <summary>
    /// Handles <paramref name="first"/>, then, for a key, the deliveries that queued up behind it, one after another on
    /// the same slot, until the key's queue is empty or intake stops (what is left is requeued by <see cref="CloseAsync"/>).
    /// A backlog of <see cref="ParkThreshold"/> or more is parked in the inbox instead of handled here.
    /// </summary>
    private async Task ProcessDeliveriesAsync(IncomingMessage first, string? key, CancellationToken abort)
    {
        // Off the read loop at once, so it can dispatch the next delivery.
        await Task.Yield();
        try
        {
            var message = first;
            var parking = false;
            while (true)
            {
                var handedBack = parking
                    ? await ParkDeliveryAsync(message, abort).ConfigureAwait(false)
                    : await ProcessDeliveryAsync(message, abort).ConfigureAwait(false);
                if (key is null)
                {
                    if (handedBack)
                    {
                        await SettleAsync(message, requeue: true).ConfigureAwait(false);
                    }

                    return;
                }

                if (!handedBack)
                {
                    // Paused: the key's next delivery does not start either; at shutdown CloseAsync requeues it in order.
                    try
                    {
                        await WhilePausedAsync(_stopIntake).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }

                List<IncomingMessage>? requeue = null;
                lock (_busyKeys)
                {
                    var waiting = _busyKeys[key];
                    if (handedBack)
                    {
                        // The broker gets this one back, and the later ones with it: none may overtake it, neither
                        // these nor those of the key still on their way to this worker (the barrier, raised before the
                        // requeue so the redelivery cannot arrive first).
                        requeue = [message, .. waiting];
                        _busyKeys.Remove(key);
                        RaiseBarrier(key, requeue);
                    }
                    else if (waiting.Count == 0)
                    {
                        _busyKeys.Remove(key);
                        return;
                    }
                    else if (_stopIntake.IsCancellationRequested)
                    {
                        return; // Shutdown: CloseAsync requeues the waiting deliveries in order.
                    }
                    else
                    {
                        // A hot key's backlog goes to the inbox once this delivery's outcome is committed (a stale one
                        // is redelivered later, so its successors must not be parked ahead of it).
                        parking |= waiting.Count >= ParkThreshold && !message.IsStale;
                        message = waiting.Dequeue();
                    }
                }

                if (requeue is not null)
                {
                    foreach (var later in requeue)
                    {
                        await SettleAsync(later, requeue: true).ConfigureAwait(false);
                    }

                    return;
                }
            }
        }
        finally
        {
            Slots.Release();
        }
    }

    /// <summary>
    /// Handles one delivery and acknowledges it, unless the inbox was unreachable: then it returns <see langword="true"/>
    /// and the caller hands it back.
    /// </summary>
    private async Task<bool> ProcessDeliveryAsync(IncomingMessage message, CancellationToken abort)
    {
        if (message.IsStale)
        {
            ConsumerLog.StaleSkipped(logger, message.MessageId);
            return false;
        }

        AttemptOutcome outcome;
        try
        {
            outcome = await ProcessAsync(message, abort).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The inbox is unreachable: the delivery goes back to the broker, which keeps it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome = await InboxUnavailableAsync(message, ex, abort).ConfigureAwait(false);
        }

        return await AckUnlessHandedBackAsync(message, outcome).ConfigureAwait(false);
    }

    /// <summary>Parks one delivery of a hot key's backlog in the inbox and acknowledges it; otherwise like <see cref="ProcessDeliveryAsync"/>.</summary>
    private async Task<bool> ParkDeliveryAsync(IncomingMessage message, CancellationToken abort)
    {
        if (message.MessageId is not { } id || message.Key is not { } key)
        {
            return await ProcessDeliveryAsync(message, abort).ConfigureAwait(false);
        }

        if (message.IsStale)
        {
            ConsumerLog.StaleSkipped(logger, message.MessageId);
            return false;
        }

        AttemptOutcome outcome;
        try
        {
            outcome = await processor.ParkBacklogAsync(handler,
                new Delivery(id, message.Topic, key, message.Type, message.Payload, message.Headers, message.Redelivered, 1, null, message.MessagingSystem)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The inbox is unreachable: the delivery goes back to the broker, which keeps it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome = await InboxUnavailableAsync(message, ex, abort).ConfigureAwait(false);
        }

        return await AckUnlessHandedBackAsync(message, outcome).ConfigureAwait(false);
    }

    private async Task<AttemptOutcome> InboxUnavailableAsync(IncomingMessage message, Exception ex, CancellationToken abort)
    {
        var reason = FailureReason.Describe(ex);
        if (limiter.ShouldLog(handler.ConsumerName + " (inbox)", reason))
        {
            ConsumerLog.InboxUnavailable(logger, FailureReason.IsExpected(ex) ? null : ex, message.MessageId, handler.ConsumerName, reason);
        }

        // Pause so a database outage does not turn into a tight redelivery loop.
        await Task.Delay(HandBackPause, timeProvider, abort).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return AttemptOutcome.HandedBack;
    }

    private async Task<bool> AckUnlessHandedBackAsync(IncomingMessage message, AttemptOutcome outcome)
    {
        if (outcome == AttemptOutcome.HandedBack)
        {
            return true;
        }

        await SettleAsync(message, requeue: false).ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Puts a barrier on <paramref name="key"/> for the handed-back deliveries, ahead of any still outstanding (those
    /// came later: only a barrier's first delivery gets to run). Caller holds the lock.
    /// </summary>
    private void RaiseBarrier(string key, List<IncomingMessage> handedBack)
    {
        if (!_barriers.TryGetValue(key, out var barrier))
        {
            barrier = new HandBackBarrier();
            _barriers[key] = barrier;
        }

        barrier.Ids.InsertRange(0, handedBack.Where(static m => m.MessageId is not null).Select(static m => m.MessageId!.Value));
        barrier.Since = timeProvider.GetTimestamp();
        if (barrier.Ids.Count == 0)
        {
            _barriers.Remove(key);
        }
    }

    /// <summary>
    /// Whether a delivery of <paramref name="key"/> must be handed back because earlier handed-back deliveries of the key
    /// have not come back yet. Only the barrier's first delivery passes (and lowers the barrier by one); one that comes
    /// back out of turn is handed back again, and any other delivery of the key joins the barrier at its end. Caller
    /// holds the lock.
    /// </summary>
    private bool HeldByBarrier(string key, IncomingMessage message)
    {
        if (!_barriers.TryGetValue(key, out var barrier))
        {
            return false;
        }

        if (message.MessageId is { } id && barrier.Ids[0] == id)
        {
            barrier.Ids.RemoveAt(0);
            barrier.Since = timeProvider.GetTimestamp();
            if (barrier.Ids.Count == 0)
            {
                _barriers.Remove(key);
            }

            return false;
        }

        if (timeProvider.GetElapsedTime(barrier.Since) > BarrierLapse)
        {
            ConsumerLog.BarrierLapsed(logger, handler.ConsumerName, key, barrier.Ids.Count, BarrierLapse);
            _barriers.Remove(key);
            return false;
        }

        if (message.MessageId is { } later && !barrier.Ids.Contains(later))
        {
            barrier.Ids.Add(later);
        }

        return true;
    }

    /// <summary>
    /// Hands back a delivery held by its key's barrier after a short pause, strictly after the ones held before it (the
    /// broker puts each back at its place, so handing them back in order keeps their order even when it delivers one
    /// before the next is back).
    /// </summary>
    private Task HandBackHeldAsync(IncomingMessage message)
    {
        var due = timeProvider.GetTimestamp() + (long)(BarrierPause.TotalSeconds * timeProvider.TimestampFrequency);
        lock (_busyKeys)
        {
            _heldChain = HandBackAfterAsync(_heldChain, message, due);
            return _heldChain;
        }
    }

    private async Task HandBackAfterAsync(Task previous, IncomingMessage message, long due)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var wait = TimeSpan.FromSeconds((due - timeProvider.GetTimestamp()) / (double)timeProvider.TimestampFrequency);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, timeProvider, _stopIntake).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await SettleAsync(message, requeue: true).ConfigureAwait(false);
    }

    private async Task<AttemptOutcome> ProcessAsync(IncomingMessage message, CancellationToken abort)
    {
        if (message.MessageId is { } id)
        {
            return await processor.ProcessAsync(handler,
                new Delivery(id, message.Topic, message.Key, message.Type, message.Payload, message.Headers, message.Redelivered, 1, null, message.MessagingSystem),
                abort).ConfigureAwait(false);
        }

        // Without an id there is no inbox key: keep it as a dead letter under a new id rather than drop it.
        var newId = Guid.CreateVersion7();
        ConsumerLog.MissingMessageId(logger, message.Topic, handler.ConsumerName, newId);
        var delivery = new Delivery(newId, message.Topic, message.Key, message.Type, message.Payload, message.Headers, message.Redelivered, 1, null, message.MessagingSystem);
        return await processor.FailAsync(handler, delivery, null, timeProvider.GetTimestamp(),
            new InvalidDataException("The message carries no valid message id."), retryable: false).ConfigureAwait(false);
    }

    private async Task SettleAsync(IncomingMessage message, bool requeue)
    {
        try
        {
            if (requeue)
            {
                await message.RequeueAsync(CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await message.AckAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // The broker redelivers what was not settled; the inbox recognises it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ConsumerLog.SettleFailed(logger, ex, message.MessageId);
        }
    }

    private sealed class HandBackBarrier
    {
        // In arrival order: the first is the only one allowed to run.
        public List<Guid> Ids { get; } = [];

        public long Since { get; set; }
    }
}
