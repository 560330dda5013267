using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Diagnostics;
using Postbox.Storage;
using Postbox.Transport;

namespace Postbox.Relay;

/// <summary>
/// The relay: claims due messages in batches under a lease, publishes them with broker confirms and
/// records the outcome. Up to <see cref="RelayOptions.MaxInFlightBatches"/> batches overlap, so the
/// database round trips hide behind publishing.
/// </summary>
internal sealed class OutboxRelay : BackgroundService
{
    // After a wake-up whose claim found nothing (the enqueuing transaction had not committed yet), look
    // again after these short delays before falling back to the poll interval.
    private static readonly TimeSpan WakeupWindow = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan FirstRecheck = TimeSpan.FromMilliseconds(1);

    private readonly IOutboxStore _store;
    private readonly RelaySignal _signal;
    private readonly IRelayWakeupSource? _wakeupSource;
    private readonly RelayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<OutboxRelay> _logger;
    private readonly BatchPublisher _publisher;
    private readonly RelayMaintenance _maintenance;
    private readonly string _owner;
    private readonly CancellationTokenSource _abort = new();
    private int _inFlight;

    public OutboxRelay(IOutboxStore store, IOutboxTransport transport, RelaySignal signal, IOptions<RelayOptions> options,
        TimeProvider timeProvider, PostboxMetrics metrics, ILogger<OutboxRelay> logger, IEnumerable<IRelayWakeupSource> wakeupSources)
    {
        ArgumentNullException.ThrowIfNull(options);
        (_store, _signal, _timeProvider, _logger) = (store, signal, timeProvider, logger);
        _options = options.Value;
        _wakeupSource = wakeupSources.FirstOrDefault();
        _owner = _options.OwnerId ?? $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
        _publisher = new BatchPublisher(transport, _options, timeProvider, metrics, logger);
        _maintenance = new RelayMaintenance(store, _options, timeProvider, metrics, logger);
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
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.RelayStarted(_logger, _owner, _options.BatchSize, _options.MaxInFlightBatches, _options.PollInterval);
        var background = new List<Task> { _maintenance.RunAsync(stoppingToken) };
        if (_wakeupSource is not null)
        {
            background.Add(ListenAsync(_wakeupSource, stoppingToken));
        }

        var batches = new List<Task>();
        using var slots = new SemaphoreSlim(_options.MaxInFlightBatches, _options.MaxInFlightBatches);
        try
        {
            await ClaimLoopAsync(slots, batches, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Normal shutdown.
        }

        Task[] pending;
        lock (batches)
        {
            pending = [.. batches];
        }

        if (Volatile.Read(ref _inFlight) > 0 && !_abort.IsCancellationRequested)
        {
            Log.ShutdownTimedOut(_logger, Volatile.Read(ref _inFlight));
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        await Task.WhenAll(background).ConfigureAwait(false);
        Log.RelayStopped(_logger, _owner);
    }

    private async Task ClaimLoopAsync(SemaphoreSlim slots, List<Task> batches, CancellationToken stoppingToken)
    {
        var storeFailures = 0;
        var recheck = FirstRecheck;
        while (!stoppingToken.IsCancellationRequested)
        {
            await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
            IReadOnlyList<OutboxEnvelope> batch;
            try
            {
                var now = _timeProvider.GetUtcNow();
                batch = await _store.ClaimAsync(
                    new ClaimRequest(_owner, _options.BatchSize, now, now + _options.LeaseDuration, _options.DeadKeyPolicy == DeadKeyPolicy.Block),
                    stoppingToken).ConfigureAwait(false);
                storeFailures = 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                slots.Release();
                var delay = TimeSpan.FromMilliseconds(Math.Min(100 * Math.Pow(2, storeFailures++), 5000));
                Log.ClaimFailed(_logger, ex, delay);
                await Task.Delay(delay, _timeProvider, stoppingToken).ConfigureAwait(false);
                continue;
            }
            catch
            {
                slots.Release();
                throw;
            }

            if (batch.Count > 0)
            {
                Interlocked.Increment(ref _inFlight);
                var task = ProcessBatchAsync(batch, slots);
                lock (batches)
                {
                    batches.RemoveAll(static t => t.IsCompleted);
                    batches.Add(task);
                }

                recheck = FirstRecheck;
            }
            else
            {
                slots.Release();
            }

            if (batch.Count >= _options.BatchSize)
            {
                continue; // More is probably waiting: claim again as soon as a slot frees.
            }

            // Drained for now. Right after a local wake-up the enqueuing transaction may not have committed
            // yet, so look again shortly; otherwise wait for the next signal or the poll interval.
            var wait = _options.PollInterval;
            if (batch.Count == 0 && _signal.SinceLastSignal < WakeupWindow)
            {
                wait = recheck < wait ? recheck : wait;
                recheck *= 2;
            }

            await _signal.WaitAsync(wait, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task ProcessBatchAsync(IReadOnlyList<OutboxEnvelope> batch, SemaphoreSlim slots)
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
            slots.Release();
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
                if (changed < count)
                {
                    Log.LeaseLost(_logger, count - changed, count, _owner);
                }

                return;
            }
            catch (Exception ex) when (attempt < tries)
            {
                Log.SettleFailed(_logger, ex, count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), _timeProvider).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.SettleAbandoned(_logger, ex, count);
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
