using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Diagnostics;
using Postbox.Monitoring;
using Postbox.Servers;
using Postbox.Storage;
using Postbox.Transport;

namespace Postbox.Relay;

/// <summary>
/// The relay: claims due messages in batches under a lease, publishes them with broker confirms and
/// records the outcome. Batches overlap up to <see cref="RelayOptions.BatchSize"/> ×
/// <see cref="RelayOptions.MaxInFlightBatches"/> unsettled messages (see <see cref="InFlightBudget"/>), so the
/// database round trips hide behind publishing.
/// </summary>
internal sealed class OutboxRelay : BackgroundService
{
    // After a wake-up, look again after short, doubling delays for this long before falling back to the poll
    // interval (see the claim loop for why).
    private static readonly TimeSpan WakeupWindow = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan FirstRecheck = TimeSpan.FromMilliseconds(1);
    private const int MaxEmptyKeyScans = 16;

    // While the transport is unavailable: the first probe soon (a flap is over at once), then twice a second, so
    // the relay resumes within about half a second of the broker's return; each probe bounded.
    private static readonly TimeSpan FirstProbeDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    private readonly IOutboxStore _store;
    private readonly RelaySignal _signal;
    private readonly IRelayWakeupSource? _wakeupSource;
    private readonly RelayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<OutboxRelay> _logger;
    private readonly BatchPublisher _publisher;
    private readonly RelayMaintenance _maintenance;
    private readonly IOutboxTransport _transport;
    private readonly TransportOutage _outage;
    private readonly SuspectMessages _suspects;
    private readonly RelayHeartbeat _heartbeat;
    private readonly string _owner;
    private readonly HeartbeatWriter? _serverRow;
    private readonly CancellationTokenSource _abort = new();
    private readonly PostboxMetrics _metrics;
    private readonly IdlePolling _idlePolling;
    private int _inFlight;

    public OutboxRelay(IOutboxStore store, IOutboxTransport transport, RelaySignal signal, IOptions<RelayOptions> options,
        TimeProvider timeProvider, PostboxMetrics metrics, ILogger<OutboxRelay> logger, IEnumerable<IRelayWakeupSource> wakeupSources,
        RelayHeartbeat heartbeat, IEnumerable<IServerRegistry> serverRegistries)
    {
        ArgumentNullException.ThrowIfNull(options);
        (_store, _signal, _timeProvider, _logger, _heartbeat) = (store, signal, timeProvider, logger, heartbeat);
        _options = options.Value;
        _metrics = metrics;
        _wakeupSource = wakeupSources.FirstOrDefault();
        _owner = _options.OwnerId ?? $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
        _transport = transport;
        _idlePolling = new IdlePolling(_options.PollInterval, _options.LongestPollWait, timeProvider);
        _outage = new TransportOutage(timeProvider, logger);
        _suspects = new SuspectMessages(timeProvider);
        _publisher = new BatchPublisher(transport, _options, timeProvider, metrics, logger, _outage, _suspects);
        _maintenance = new RelayMaintenance(store, _options, timeProvider, metrics, logger);
        // The servers page's row, keyed by the owner id the relay's leases carry (none when the store keeps no such table).
        _serverRow = serverRegistries.FirstOrDefault() is { } registry
            ? new HeartbeatWriter(registry, _owner, ServerRole.Relay, _options.HeartbeatInterval, [], metrics.Activity, timeProvider, logger)
            : null;
    }

    /// <summary>The lease owner id of this relay.</summary>
    public string Owner => _owner;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Stop claiming at once; in-flight batches get ShutdownTimeout to finish, then are aborted and
        // their unconfirmed messages handed back.
        _abort.CancelAfter(_options.ShutdownTimeout);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _abort.Dispose();
        _suspects.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.RelayStarted(_logger, _owner, _options.BatchSize, _options.BatchSize * _options.MaxInFlightBatches, _options.PollInterval,
            _options.LongestPollWait);
        var background = new List<Task> { _maintenance.RunAsync(stoppingToken) };
        if (_serverRow is not null)
        {
            background.Add(_serverRow.RunAsync(stoppingToken));
        }

        if (_wakeupSource is not null)
        {
            background.Add(ListenAsync(_wakeupSource, stoppingToken));
        }

        var batches = new List<Task>();
        using var budget = new InFlightBudget(_options.BatchSize * _options.MaxInFlightBatches);
        try
        {
            _heartbeat.Beat();
            await ClaimLoopAsync(budget, batches, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Normal shutdown.
        }
        finally
        {
            // Also when the loop failed: the health check then reports the relay down at once.
            _heartbeat.Stopped();
        }

        Task[] pending;
        lock (batches)
        {
            pending = [.. batches];
        }

        // The abort fires ShutdownTimeout after StopAsync; only then, if batches are still in flight, are their
        // unconfirmed messages handed back.
        using (_abort.Token.Register(() =>
        {
            var inFlight = Volatile.Read(ref _inFlight);
            if (inFlight > 0)
            {
                Log.ShutdownTimedOut(_logger, inFlight);
            }
        }))
        {
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
        await Task.WhenAll(background).ConfigureAwait(false);
        if (_serverRow is not null)
        {
            // Gone from the servers page, with the last counts written. A killed relay's row goes stale instead.
            await _serverRow.RemoveAsync().ConfigureAwait(false);
        }

        Log.RelayStopped(_logger, _owner);
    }

    private async Task ClaimLoopAsync(InFlightBudget budget, List<Task> batches, CancellationToken stoppingToken)
    {
        var storeFailures = 0;
        var failingSince = 0L;
        var recheck = FirstRecheck;
        string? keyCursor = null;
        var emptyScans = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            _heartbeat.Beat();
            if (_outage.IsDown)
            {
                // Claim nothing while the transport is down: what is claimed would only be handed back.
                await WaitForTransportAsync(stoppingToken).ConfigureAwait(false);
            }

            var size = Math.Min(_options.BatchSize, await budget.WaitAvailableAsync(stoppingToken).ConfigureAwait(false));
            IReadOnlyList<OutboxEnvelope> batch;
            bool mayHaveMore;
            int parked;
            try
            {
                var now = _timeProvider.GetUtcNow();
                var claimStarted = _timeProvider.GetTimestamp();
                var claim = await _store.ClaimAsync(
                    new ClaimRequest(_owner, size, now, now + _options.LeaseDuration, _options.DeadKeyPolicy == DeadKeyPolicy.Block, keyCursor),
                    stoppingToken).ConfigureAwait(false);
                _metrics.ClaimCompleted(_timeProvider.GetElapsedTime(claimStarted), claim.Messages.Count + claim.Parked);
                (batch, keyCursor, mayHaveMore, parked) = (claim.Messages, claim.NextKeyCursor, claim.MayHaveMore, claim.Parked);
                if (storeFailures > 0)
                {
                    Log.ClaimRecovered(_logger, storeFailures, _timeProvider.GetElapsedTime(failingSince));
                }

                storeFailures = 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // One warning per outage (database down, connection pool exhausted), with the first error, and one
                // line when claiming works again; the failures in between only at debug level.
                var delay = TimeSpan.FromMilliseconds(Math.Min(100 * Math.Pow(2, storeFailures++), 5000));
                if (storeFailures == 1)
                {
                    failingSince = _timeProvider.GetTimestamp();
                    Log.ClaimFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, FailureReason.Describe(ex), delay);
                }
                else
                {
                    Log.ClaimFailedAgain(_logger, FailureReason.IsExpected(ex) ? null : ex, FailureReason.Describe(ex), storeFailures, delay);
                }

                await Task.Delay(delay, _timeProvider, stoppingToken).ConfigureAwait(false);
                continue;
            }
            if (batch.Count > 0)
            {
                Interlocked.Increment(ref _inFlight);
                budget.Take(batch.Count);
                var task = ProcessBatchAsync(batch, budget);
                lock (batches)
                {
                    batches.RemoveAll(static t => t.IsCompleted);
                    batches.Add(task);
                }

            }

            if (batch.Count > 0 || parked > 0)
            {
                emptyScans = 0;
                _idlePolling.Reset();
            }

            if (batch.Count >= size)
            {
                continue; // More is probably waiting: claim again as soon as a slot frees.
            }

            // The claim looked at as many keys as it may and more keys are waiting: go on round the keys at once. A run of
            // scans that find every key blocked is bounded (MaxEmptyKeyScans × BatchSize keys), so a backlog of blocked keys
            // cannot make the relay spin; past it the relay waits for a wake-up or the poll interval as usual.
            // A claim that parked messages of a paused topic made progress too: a paused backlog ahead of other topics'
            // messages is parked at a batch per claim, not at MaxEmptyKeyScans batches per poll interval.
            if (mayHaveMore && (batch.Count > 0 || parked > 0 || ++emptyScans < MaxEmptyKeyScans))
            {
                continue;
            }

            emptyScans = 0;

            // Drained for now. Shortly after a wake-up, look again at growing intervals (1, 2, 4 ... ms) even when
            // the claim found something: a local signal fires before the enqueuing transaction commits, and
            // producers coalesce NOTIFYs (at most one notifying transaction per few milliseconds), so messages
            // committed just after the wake-up carry no signal of their own. Each signal restarts the sequence;
            // without signals the relay waits for the poll interval, growing to the idle poll interval while
            // notifications arrive (see IdlePolling): an idle relay costs one claim per interval.
            TimeSpan wait;
            if (_signal.SinceLastSignal < WakeupWindow)
            {
                wait = recheck < _options.PollInterval ? recheck : _options.PollInterval;
                recheck *= 2;
            }
            else
            {
                wait = _idlePolling.Next(_wakeupSource?.IsListening == true);
            }

            if (await _signal.WaitAsync(wait, stoppingToken).ConfigureAwait(false))
            {
                recheck = FirstRecheck;
                _idlePolling.Reset();
            }
        }
    }

    /// <summary>Probes the transport until it answers, then ends the outage.</summary>
    private async Task WaitForTransportAsync(CancellationToken stoppingToken)
    {
        for (var probe = 1; ; probe++)
        {
            await Task.Delay(probe == 1 ? FirstProbeDelay : ProbeInterval, _timeProvider, stoppingToken).ConfigureAwait(false);
            _heartbeat.Beat(); // Waiting for the broker is the loop's job during an outage, not a stall.
            using var timeout = new CancellationTokenSource(ProbeTimeout, _timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
            try
            {
                await _transport.ProbeAsync(linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.TransportProbeFailed(_logger, ex.Message);
                continue;
            }

            var handedBack = _outage.End();
            if (probe == 1 && handedBack.Count > 0)
            {
                // Reachable again at once: the connection was closed under the publishes, not lost. Perhaps one of
                // the messages in flight broke it (see SuspectMessages).
                Log.TransportFlapped(_logger, handedBack.Count);
                _suspects.Flapped(handedBack);
            }

            return;
        }
    }

    private async Task ProcessBatchAsync(IReadOnlyList<OutboxEnvelope> batch, InFlightBudget budget)
    {
        var started = _timeProvider.GetTimestamp();
        try
        {
            // Yield so the claim loop can go on claiming while this batch publishes.
            await Task.Yield();
            var outcome = await _publisher.PublishAsync(_owner, batch, _abort.Token).ConfigureAwait(false);
            await SettleAsync(outcome, batch.Count).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            budget.Return(batch.Count);
            _maintenance.Metrics.BatchCompleted(_timeProvider.GetElapsedTime(started));
        }
    }

    private async Task SettleAsync(SettleRequest outcome, int count)
    {
        // Settling must outlive shutdown: an unsettled batch is only republished after its lease expires.
        const int tries = 5;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var changed = await _store.SettleAsync(outcome, CancellationToken.None).ConfigureAwait(false);
                var retries = false;
                foreach (var failure in outcome.Failed)
                {
                    if (!failure.Dead)
                    {
                        _idlePolling.RetryScheduled(failure.NextAttemptAt);
                        retries = true;
                    }
                }

                if (retries)
                {
                    // The claim loop may have backed off while this batch was publishing (a publish can take up to
                    // PublishTimeout): wake it so that its next wait is the poll interval, not the rest of an idle one.
                    _signal.Notify();
                }

                if (changed < count)
                {
                    Log.LeaseLost(_logger, count - changed, count, _owner);
                }

                return;
            }
            catch (Exception ex) when (attempt < tries)
            {
                Log.SettleFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, count, attempt, FailureReason.Describe(ex));
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), _timeProvider).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.SettleAbandoned(_logger, FailureReason.IsExpected(ex) ? null : ex, count, FailureReason.Describe(ex));
                return;
            }
        }
    }

    private async Task ListenAsync(IRelayWakeupSource source, CancellationToken stoppingToken)
    {
        try
        {
            await source.ListenAsync(_signal.Notify, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Normal shutdown.
        }
        catch (Exception ex)
        {
            Log.WakeupSourceFailed(_logger, ex);
        }
    }
}
