using System.Collections.Concurrent;
using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Postbox.Bench.Scenarios;

/// <summary>Records when each expected message id was committed and when the consumer's handler saw it (one clock).</summary>
internal sealed class LatencyTracker
{
    private readonly ConcurrentDictionary<Guid, int> _index = new();
    private readonly long[] _sent;
    private readonly long[] _received;
    private int _receivedCount;

    public LatencyTracker(Guid[] ids)
    {
        Ids = ids;
        _sent = new long[ids.Length];
        _received = new long[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            _index[ids[i]] = i;
        }
    }

    public Guid[] Ids { get; }

    public int ReceivedCount => Volatile.Read(ref _receivedCount);

    public void Sent(int i) => _sent[i] = Stopwatch.GetTimestamp();

    /// <summary>When message i's transaction committed (Stopwatch ticks), 0 when it did not.</summary>
    public long SentAt(int i) => _sent[i];

    /// <summary>When message i reached the handler (Stopwatch ticks), 0 when it did not.</summary>
    public long ReceivedAt(int i) => Volatile.Read(ref _received[i]);

    public void Received(string? messageId)
    {
        var now = Stopwatch.GetTimestamp();
        if (Guid.TryParse(messageId, out var id) && _index.TryGetValue(id, out var i) && Interlocked.CompareExchange(ref _received[i], now, 0) == 0)
        {
            Interlocked.Increment(ref _receivedCount);
        }
    }

    /// <summary>Latencies in ms of messages from <paramref name="from"/> on; a receipt before the commit returned counts as 0.</summary>
    public (double[] Sorted, int Missing) Latencies(int from)
    {
        var list = new List<double>(_sent.Length);
        var missing = 0;
        for (var i = from; i < _sent.Length; i++)
        {
            if (_received[i] == 0 || _sent[i] == 0)
            {
                missing++;
                continue;
            }

            list.Add(Math.Max(0, (_received[i] - _sent[i]) * 1000.0 / Stopwatch.Frequency));
        }

        list.Sort();
        return ([.. list], missing);
    }
}

/// <summary>When each message id reached the consumer's handler (Stopwatch ticks: CLOCK_MONOTONIC, one clock for all processes).</summary>
internal sealed class ReceiptLog
{
    private readonly ConcurrentDictionary<Guid, long> _received = new();

    public int Count => _received.Count;

    public void Received(string? messageId)
    {
        var now = Stopwatch.GetTimestamp();
        if (Guid.TryParse(messageId, out var id))
        {
            _received.TryAdd(id, now);
        }
    }

    public bool TryGet(Guid id, out long ticks) => _received.TryGetValue(id, out ticks);
}

/// <summary>A raw RabbitMQ.Client consumer (manual acks) that stamps each delivery on arrival in the handler.</summary>
internal sealed class LatencyConsumer : IAsyncDisposable
{
    private readonly IChannel _channel;

    private LatencyConsumer(IChannel channel) => _channel = channel;

    public LatencyTracker? Tracker { get; set; }

    /// <summary>Receipts by message id, for a producer in another process whose ids are known only afterwards (the peer).</summary>
    public ReceiptLog? Receipts { get; set; }

    public static async Task<LatencyConsumer> StartAsync(IConnection connection, string queue)
    {
        var channel = await connection.CreateChannelAsync();
        var consumer = new LatencyConsumer(channel);
        await channel.BasicQosAsync(0, 2000, false);
        var basic = new AsyncEventingBasicConsumer(channel);
        basic.ReceivedAsync += async (_, delivery) =>
        {
            consumer.Tracker?.Received(delivery.BasicProperties.MessageId);
            consumer.Receipts?.Received(delivery.BasicProperties.MessageId);
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, basic);
        return consumer;
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.CloseAsync();
        _channel.Dispose();
    }
}

/// <summary>
/// 3. Latency: producer transactions at a fixed offered rate in this process, the relay in a child process, a raw
/// consumer here measuring commit (the moment CommitAsync returned) → handler. With LISTEN/NOTIFY wake-ups and with
/// polling only. Raw limit: a bare publisher at the same rate into the same kind of queue, publish → handler.
/// </summary>
internal sealed class LatencyScenario(BenchContext context)
{
    private const string Topic = "bench.latency";

    public async Task RunAsync()
    {
        var o = context.Options;
        Progress.Say($"3. Latency: {string.Join(", ", o.Rates)} msg/s offered, {o.LatencySeconds:0.#} s each (+{o.WarmupSeconds:0.#} s warm-up), LISTEN/NOTIFY and polling");
        var schema = await context.NewSchemaAsync("latency");
        var exchange = context.RunId + "_lat";
        var queuePrefix = context.RunId + ".";
        var queue = queuePrefix + Topic;
        var rawExchange = context.RunId + "_latraw";
        var rawQueue = context.RunId + ".latraw";
        await context.Broker.DeclareAsync(exchange, queue, Topic);
        await context.Broker.DeclareAsync(rawExchange, rawQueue, "raw");
        await using var consumer = await LatencyConsumer.StartAsync(context.Broker.Connection, queue);
        await using var rawConsumer = await LatencyConsumer.StartAsync(context.Broker.Connection, rawQueue);

        var raw = new Dictionary<int, (double[] Sorted, int Missing, double Achieved)>();
        foreach (var rate in o.Rates)
        {
            raw[rate] = await context.Broker.MeasureAsync($"raw {rate}/s", () => RawRunAsync(rawConsumer, rawExchange, rate));
        }

        foreach (var listen in new[] { true, false })
        {
            var mode = listen ? "LISTEN/NOTIFY" : $"polling only ({o.PollMilliseconds} ms)";
            await using var outbox = BenchContext.CreateOutbox(schema.DataSource, schema.Name, notify: listen);
            await using var relay = ChildProcess.Start("relay", context.RelayArgs(o.Postgres, schema.Name, "rabbitmq", listen, o.PollMilliseconds, exchange, queuePrefix));
            await relay.WaitForAsync("READY", TimeSpan.FromSeconds(60));
            foreach (var rate in o.Rates)
            {
                var (sorted, missing, achieved, _) = await context.Broker.MeasureAsync($"{rate}/s {mode}", () => PostboxRunAsync(schema, outbox.Outbox, consumer, rate, listen));
                var r = raw[rate];
                string Fmt(double[] s) => s.Length == 0 ? "n/a" : $"{Stats.Percentile(s, 50):0.0} / {Stats.Percentile(s, 95):0.0} / {Stats.Percentile(s, 99):0.0} / {s[^1]:0.0}";
                var (target, met) = !listen
                    ? ("report", (bool?)null)
                    : rate <= 1000
                        ? ("p50 ≤ 5, p99 ≤ 25", sorted.Length > 0 && Stats.Percentile(sorted, 50) <= 5 && Stats.Percentile(sorted, 99) <= 25 && missing == 0)
                        : ("p99 ≤ 100", sorted.Length > 0 && Stats.Percentile(sorted, 99) <= 100 && missing == 0);
                var ratio = sorted.Length > 0 && r.Sorted.Length > 0 ? Stats.Percentile(r.Sorted, 99) / Stats.Percentile(sorted, 99) : (double?)null;
                context.Report.Add("3", $"commit → handler ms p50/p95/p99/max at {rate:N0}/s, {mode}", Fmt(sorted), Fmt(r.Sorted), ratio, target, met,
                    key: listen ? $"latency-{rate}" : null, rawValue: r.Sorted.Length > 0 ? Stats.Percentile(r.Sorted, 99) : null);
                context.Report.Note("3. Latency", $"{rate:N0}/s {mode}: achieved {achieved:N0} tx/s offered, {sorted.Length:N0} measured, {missing} missing; " +
                    $"raw publisher achieved {r.Achieved:N0} msg/s, {r.Missing} missing. Ratio = raw p99 / Postbox p99.");
            }
        }

        await RunStagesAsync(schema, consumer, exchange, queuePrefix);
    }

    /// <summary>
    /// The stage pass: LISTEN/NOTIFY again, with the relay child recording its claims and send spans
    /// (<see cref="StageRecorder"/>), to split commit → handler into stages. Its own pass because listening turns the
    /// relay's tracing on.
    /// </summary>
    private async Task RunStagesAsync(BenchSchema schema, LatencyConsumer consumer, string exchange, string queuePrefix)
    {
        var o = context.Options;
        foreach (var rate in o.Rates)
        {
            var file = Path.Combine(Path.GetTempPath(), $"{context.RunId}-stages-{rate}.tsv");
            (double[] Sorted, int Missing, double Achieved, LatencyTracker Tracker) run;
            await using (var outbox = BenchContext.CreateOutbox(schema.DataSource, schema.Name, notify: true))
            {
                await using var relay = ChildProcess.Start("relay", [.. context.RelayArgs(o.Postgres, schema.Name, "rabbitmq", true, o.PollMilliseconds, exchange, queuePrefix), "--stages", file]);
                await relay.WaitForAsync("READY", TimeSpan.FromSeconds(60));
                run = await PostboxRunAsync(schema, outbox.Outbox, consumer, rate, listen: true);
            } // The child writes the file as it stops.

            var (stages, tail, matched, claims) = StageBreakdown.Analyze(file, run.Tracker, (int)(rate * o.WarmupSeconds));
            File.Delete(file);
            string Fmt(double[] v) => v.Length == 0 ? "n/a" : $"{Stats.Percentile(v, 50):0.0} / {Stats.Percentile(v, 95):0.0} / {Stats.Percentile(v, 99):0.0}";
            for (var i = 0; i < StageBreakdown.Names.Length; i++)
            {
                context.Report.Add("3s", $"{rate:N0}/s stage: {StageBreakdown.Names[i]}, ms p50/p95/p99", Fmt(stages[i]), "—", null, "report", null);
            }

            context.Report.Add("3s", $"{rate:N0}/s relay claims/s (of them empty); messages per claim that found some",
                $"{claims.PerSecond:N0} ({claims.EmptyPerSecond:N0}); {claims.MessagesPerClaim:0.0}", "—", null, "report", null);
            context.Report.Note("3. Latency", $"stages at {rate:N0}/s (LISTEN/NOTIFY, relay tracing on): {matched:N0} messages matched, achieved {run.Achieved:N0} tx/s, {run.Missing} missing; " +
                "mean ms by stage over the slowest 1 %: " + string.Join("; ", StageBreakdown.Names.Select((n, i) => $"{n} {tail[i]:0.0}")));
        }
    }

    private async Task<(double[] Sorted, int Missing, double Achieved, LatencyTracker Tracker)> PostboxRunAsync(BenchSchema schema, IOutbox outbox, LatencyConsumer consumer, int rate, bool listen)
    {
        var o = context.Options;
        var total = (int)(rate * (o.WarmupSeconds + o.LatencySeconds));
        var warmup = (int)(rate * o.WarmupSeconds);
        var tracker = new LatencyTracker([.. Enumerable.Range(0, total).Select(_ => Guid.CreateVersion7())]);
        consumer.Tracker = tracker;
        var payload = Payload.Create(o.PayloadBytes);
        var achieved = await OpenLoop.RunAsync(rate, total, async i =>
        {
            await schema.PlaceOrderAsync(outbox, new OutboxMessage(Topic, payload) { Id = tracker.Ids[i], Type = "OrderPlaced" });
            tracker.Sent(i);
        });
        await WaitAllAsync(tracker, TimeSpan.FromSeconds(15) + TimeSpan.FromMilliseconds(listen ? 0 : 2 * o.PollMilliseconds));
        var (sorted, missing) = tracker.Latencies(warmup);
        Progress.Say($"  {rate:N0}/s {(listen ? "LISTEN/NOTIFY" : "polling")}: p50 {Stats.Percentile(sorted, 50):0.0} ms, p99 {Stats.Percentile(sorted, 99):0.0} ms, max {(sorted.Length > 0 ? sorted[^1] : 0):0.0} ms, achieved {achieved:N0}/s");
        return (sorted, missing, achieved, tracker);
    }

    private async Task<(double[] Sorted, int Missing, double Achieved)> RawRunAsync(LatencyConsumer consumer, string exchange, int rate)
    {
        var o = context.Options;
        var seconds = Math.Min(o.LatencySeconds, 10);
        var total = (int)(rate * (o.WarmupSeconds + seconds));
        var tracker = new LatencyTracker([.. Enumerable.Range(0, total).Select(_ => Guid.CreateVersion7())]);
        consumer.Tracker = tracker;
        var body = Payload.Create(o.PayloadBytes);
        await using var channel = await context.Broker.Connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var achieved = await OpenLoop.RunAsync(rate, total, async i =>
        {
            var properties = RawPublishMode.RawProperties();
            properties.MessageId = tracker.Ids[i].ToString("D");
            tracker.Sent(i);
            await channel.BasicPublishAsync(exchange, "raw", mandatory: true, properties, body);
        });
        await WaitAllAsync(tracker, TimeSpan.FromSeconds(15));
        var (sorted, missing) = tracker.Latencies((int)(rate * o.WarmupSeconds));
        Progress.Say($"  raw {rate:N0}/s: p50 {Stats.Percentile(sorted, 50):0.0} ms, p99 {Stats.Percentile(sorted, 99):0.0} ms, achieved {achieved:N0}/s");
        return (sorted, missing, achieved);
    }

    private static async Task WaitAllAsync(LatencyTracker tracker, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (tracker.ReceivedCount < tracker.Ids.Length && watch.Elapsed < timeout)
        {
            await Task.Delay(20);
        }
    }
}
