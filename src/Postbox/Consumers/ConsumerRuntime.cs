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
        intake.Add(scheduler.RunAsync(() => _paused, _stopIntake.Token, _abort.Token));
        var cleanup = new InboxCleanup(store, _options.Value, _timeProvider, _logger).RunAsync(_stopIntake.Token);
        // Consumers paused in the store (dashboard, admin, IPostboxPauses): registered by the SQL stores.
        if (_services.GetService<Postbox.Monitoring.IPostboxPauses>() is { } pauses)
        {
            intake.Add(PollPausesAsync(pauses, _stopIntake.Token));
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
    /// Reads the paused consumers every <see cref="ConsumerOptions.PausePollInterval"/> (one query of the small pauses
    /// table) and pauses or resumes each handler's intake to match. A failed read keeps every consumer as it was.
    /// </summary>
    private async Task PollPausesAsync(Postbox.Monitoring.IPostboxPauses pauses, CancellationToken stopIntake)
    {
        var interval = _options.Value.PausePollInterval;
        var failures = 0;
        while (!stopIntake.IsCancellationRequested)
        {
            var delay = interval;
            try
            {
                var paused = (await pauses.ListAsync(stopIntake).ConfigureAwait(false))
                    .Where(p => p.Side == Postbox.Monitoring.MessageSide.Inbox).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
                failures = 0;
                foreach (var worker in _workers)
                {
                    var name = worker.Handler.ConsumerName;
                    var pause = paused.Contains(name);
                    if (await worker.SetStorePausedAsync(pause, stopIntake).ConfigureAwait(false))
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
            }
            catch (OperationCanceledException) when (stopIntake.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                delay = TimeSpan.FromTicks(Math.Min(interval.Ticks * (1L << Math.Min(failures, 5)), TimeSpan.FromSeconds(30).Ticks));
                var reason = FailureReason.Describe(ex);
                if (failures++ == 0 || _limiter!.ShouldLog("pause poll", reason))
                {
                    ConsumerLog.PausePollFailed(_logger, FailureReason.IsExpected(ex) ? null : ex, reason, delay);
                }
            }

            await Task.Delay(delay, _timeProvider, stopIntake).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

    private Task WhilePausedAsync(CancellationToken cancellationToken)
    {
        Task resumed;
        lock (_control)
        {
            resumed = _resumed.Task;
        }

        return resumed.IsCompleted ? Task.CompletedTask : resumed.WaitAsync(cancellationToken);
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
