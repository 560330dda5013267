using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Monitoring;
using Postbox.Servers;

namespace Postbox.Consumers;

/// <summary>
/// The consumer host: one <see cref="HandlerWorker"/> per registered handler, the retry scheduler and inbox cleanup.
/// Stops in three steps: stop intake, let in-flight attempts finish within <see cref="ConsumerOptions.ShutdownTimeout"/>,
/// then cancel the rest and hand every unfinished delivery back.
/// </summary>
internal sealed class ConsumerRuntime : BackgroundService, IConsumerControl
{
    private readonly IServiceProvider _services;
    private readonly IReadOnlyList<HandlerRegistration> _handlers;
    private readonly IOptions<ConsumerOptions> _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ConsumerRuntime> _logger;
    private readonly CancellationTokenSource _stopIntake = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly SemaphoreSlim _control = new(1, 1);
    private readonly List<PosixSignalRegistration> _signals = [];
    private List<HandlerWorker> _workers = [];
    private volatile bool _paused;
    private readonly SemaphoreSlim _pauseRead = new(1, 1);
    private Postbox.Monitoring.IPostboxPauses? _pauses;
    private long _pausesReadAt;
    private volatile bool _anyStorePaused;
    // Completed while intake runs; replaced by a pending one while paused.
    private TaskCompletionSource _resumed = Resumed();
    private FailureLogLimiter? _limiter;

    public ConsumerRuntime(IServiceProvider services, IEnumerable<HandlerRegistration> handlers, IOptions<ConsumerOptions> options,
        TimeProvider timeProvider, ILogger<ConsumerRuntime> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Options are read when the runtime starts, after start-up validation reported every options type's errors.
        (_services, _options, _timeProvider, _logger) = (services, options, timeProvider, logger);
        _handlers = [.. handlers];
    }

    public bool IsPaused => _paused;

    public Task PauseAsync(CancellationToken cancellationToken = default) => SetPausedAsync(true, "API", cancellationToken);

    public Task ResumeAsync(CancellationToken cancellationToken = default) => SetPausedAsync(false, "API", cancellationToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Stop intake now; ExecuteAsync drains in-flight work within ShutdownTimeout. The host's own shutdown timeout
        // (cancellationToken) still bounds the whole stop.
        await _stopIntake.CancelAsync().ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        _limiter?.Dispose();
        foreach (var worker in _workers)
        {
            worker.Dispose();
        }

        _stopIntake.Dispose();
        _abort.Dispose();
        _control.Dispose();
        _pauseRead.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here, after start-up validation has listed any missing registration.
        var source = _services.GetRequiredService<IConsumerSource>();
        var store = _services.GetRequiredService<IInboxStore>();
        // A few lines per kind of failure every 10 s, then one summary line: an outage under load stays readable.
        var limiter = _limiter = new FailureLogLimiter(_timeProvider, _logger, TimeSpan.FromSeconds(10), individuallyPerWindow: 5);
        var wakeup = new RetryWakeup(_timeProvider);
        var metrics = _services.GetRequiredService<ConsumerMetrics>();
        var processor = new MessageProcessor(store, _services.GetRequiredService<IServiceScopeFactory>(), _timeProvider,
            metrics, _logger, limiter, wakeup);
        _workers = [.. _handlers.Select(h => new HandlerWorker(h, processor, _timeProvider, _logger, limiter, WhilePausedAsync))];
        var owner = _options.Value.OwnerId ?? $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
        var scheduler = new RetryScheduler(store, processor, _workers, _options.Value, owner, _timeProvider, _logger, limiter, wakeup);
        RegisterSignals();

        var intake = _workers.Select(w => w.RunAsync(source, () => _paused, _stopIntake.Token, _abort.Token)).ToList();
        intake.Add(scheduler.RunAsync(() => _paused, _stopIntake.Token, _abort.Token, RefreshPausesIfStaleAsync));
        var cleanup = new InboxCleanup(store, _options.Value, _timeProvider, _logger).RunAsync(_stopIntake.Token);
        // Consumers paused in the store (dashboard, admin, IPostboxPauses): registered by the SQL stores.
        if (_services.GetService<Postbox.Monitoring.IPostboxPauses>() is { } pauses)
        {
            _pauses = pauses;
            intake.Add(PollPausesAsync(_stopIntake.Token));
        }
        // The servers page's row, keyed by the owner id of this worker's retry leases; it beats until the drain is over.
        var serverRow = _services.GetService<IServerRegistry>() is { } registry
            ? new HeartbeatWriter(registry, owner, ServerRole.Worker, _options.Value.HeartbeatInterval,
                [.. _handlers.Select(h => new ServerHandler(h.Topic, h.ConsumerName, h.Options.Concurrency))], metrics.Activity, _timeProvider, _logger)
            : null;
        using var stopBeating = new CancellationTokenSource();
        var beating = serverRow?.RunAsync(stopBeating.Token) ?? Task.CompletedTask;

        await Task.Delay(Timeout.InfiniteTimeSpan, _timeProvider, _stopIntake.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // 1. Stop intake: the broker stops delivering, the read loops and the scheduler exit.
        foreach (var worker in _workers)
        {
            await worker.SetPausedAsync(true, CancellationToken.None).ConfigureAwait(false);
        }

        await Task.WhenAll(intake).ConfigureAwait(false);
        await cleanup.ConfigureAwait(false);

        // 2. Let in-flight attempts finish, then 3. cancel what is left: those attempts hand their messages back.
        var inFlight = _workers.SelectMany(w => w.InFlight).ToArray();
        ConsumerLog.Draining(_logger, _options.Value.ShutdownTimeout, inFlight.Length);
        var all = Task.WhenAll(inFlight);
        try
        {
            await all.WaitAsync(_options.Value.ShutdownTimeout, _timeProvider, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ConsumerLog.ShutdownTimedOut(_logger, inFlight.Count(t => !t.IsCompleted));
            await _abort.CancelAsync().ConfigureAwait(false);
            await all.ConfigureAwait(false);
        }

        var requeued = 0;
        foreach (var worker in _workers)
        {
            requeued += await worker.CloseAsync().ConfigureAwait(false);
        }

        await stopBeating.CancelAsync().ConfigureAwait(false);
        await beating.ConfigureAwait(false);
        if (serverRow is not null)
        {
            await serverRow.RemoveAsync().ConfigureAwait(false);
        }

        ConsumerLog.Stopped(_logger, requeued);
    }

    /// <summary>
    /// Keeps each handler's store pause (IPostboxPauses) current at little idle cost. The pauses are read again before a
    /// delivery starts or retries are claimed when the last read is older than <see cref="ConsumerOptions.PausePollInterval"/>
    /// (so a busy worker reads them at most once per interval, and a pause set while it was idle holds the first message
    /// that comes after); this loop reads them every interval while a consumer is paused (to see the resume), and
    /// otherwise only every <see cref="ConsumerOptions.IdleRetryPollInterval"/> (an idle worker: one query per 10 s).
    /// </summary>
    private async Task PollPausesAsync(CancellationToken stopIntake)
    {
        var interval = _options.Value.PausePollInterval;
        var idle = _options.Value.IdleRetryPollInterval > interval ? _options.Value.IdleRetryPollInterval : interval;
        while (!stopIntake.IsCancellationRequested)
        {
            await RefreshPausesAsync(_anyStorePaused ? interval : idle, stopIntake).ConfigureAwait(false);
            await Task.Delay(interval, _timeProvider, stopIntake).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private Task RefreshPausesIfStaleAsync(CancellationToken cancellationToken) =>
        _pauses is null || _timeProvider.GetElapsedTime(Interlocked.Read(ref _pausesReadAt)) < _options.Value.PausePollInterval
            ? Task.CompletedTask
            : RefreshPausesAsync(_options.Value.PausePollInterval, cancellationToken);

    /// <summary>
    /// Reads the paused consumers when the last read is older than <paramref name="maxAge"/>, and pauses or resumes each
    /// handler's intake to match. A failed read keeps every consumer as it was and counts as a read (logged, limited), so a
    /// database outage does not cost a query per delivery.
    /// </summary>
    private async Task RefreshPausesAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        if (_pauses is not { } pauses)
        {
            return;
        }

        try
        {
            await _pauseRead.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            var readAt = Interlocked.Read(ref _pausesReadAt);
            if (readAt != 0 && _timeProvider.GetElapsedTime(readAt) < maxAge)
            {
                return; // Another caller read them meanwhile.
            }

            Interlocked.Exchange(ref _pausesReadAt, _timeProvider.GetTimestamp());
            var paused = (await pauses.ListAsync(cancellationToken).ConfigureAwait(false))
                .Where(p => p.Side == Postbox.Monitoring.MessageSide.Inbox).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
            var any = false;
            foreach (var worker in _workers)
            {
                var name = worker.Handler.ConsumerName;
                var pause = paused.Contains(name);
                any |= pause;
                if (await worker.SetStorePausedAsync(pause, cancellationToken).ConfigureAwait(false))
                {
                    if (pause)
                    {
                        ConsumerLog.ConsumerPaused(_logger, name);
                    }
                    else
                    {
                        ConsumerLog.ConsumerResumed(_logger, name);
                    }
                }
            }

            _anyStorePaused = any;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            var reason = FailureReason.Describe(ex);
            if (_limiter!.ShouldLog("pause poll", reason))
            {
                ConsumerLog.PausePollFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, reason, maxAge);
            }
        }
        finally
        {
            _pauseRead.Release();
        }
    }

    private async Task SetPausedAsync(bool paused, string reason, CancellationToken cancellationToken)
    {
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_paused == paused)
            {
                return;
            }

            _paused = paused;
            lock (_control)
            {
                if (paused)
                {
                    _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                else
                {
                    _resumed.TrySetResult();
                }
            }

            foreach (var worker in _workers)
            {
                await worker.SetPausedAsync(paused, cancellationToken).ConfigureAwait(false);
            }

            if (paused)
            {
                ConsumerLog.Paused(_logger, reason);
            }
            else
            {
                ConsumerLog.Resumed(_logger, reason);
            }
        }
        finally
        {
            _control.Release();
        }
    }

    private static TaskCompletionSource Resumed()
    {
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        resumed.SetResult();
        return resumed;
    }

    private async Task WhilePausedAsync(CancellationToken cancellationToken)
    {
        // Before a delivery starts: the store's pauses, read again when stale (a cheap clock check otherwise).
        await RefreshPausesIfStaleAsync(cancellationToken).ConfigureAwait(false);
        Task resumed;
        lock (_control)
        {
            resumed = _resumed.Task;
        }

        if (!resumed.IsCompleted)
        {
            await resumed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void RegisterSignals()
    {
        if (!_options.Value.HandleSignals || OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            // SIGTSTP would stop the whole process; cancelling it keeps the worker running with intake paused,
            // as asynq's workers do. SIGCONT (kill -CONT) takes messages again.
            _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGTSTP, context =>
            {
                context.Cancel = true;
                _ = SetPausedAsync(true, "SIGTSTP", CancellationToken.None);
            }));
            _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGCONT, context => _ = SetPausedAsync(false, "SIGCONT", CancellationToken.None)));
        }
        catch (Exception ex) when (ex is PlatformNotSupportedException or IOException)
        {
            ConsumerLog.SignalsUnavailable(_logger, ex);
        }
    }
}
