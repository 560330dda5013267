using System.Diagnostics;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// 2. Drain and 6. memory: N pre-enqueued messages published by a relay process to a durable RabbitMQ queue
/// (persistent, confirms) vs. a bare RabbitMQ.Client publisher process with pipelined confirms into the same kind of
/// queue. Both rates are measured the same way, from the queue depth, between 5 % and 100 % of the messages (so
/// process start-up and JIT do not count). CPU per 1,000 messages comes from /proc for the relay process, the
/// PostgreSQL processes and the RabbitMQ node over the same window.
/// </summary>
internal sealed class DrainScenario(BenchContext context)
{
    private const string Topic = "bench.drain";

    public async Task RunAsync()
    {
        var o = context.Options;
        Progress.Say($"2. Drain: {o.DrainMessages:N0} messages, {o.DrainRepeats} repeat(s), relay and raw publisher alternating");
        var schema = await context.NewSchemaAsync("drain");
        var exchange = context.RunId + "_drain";
        var queuePrefix = context.RunId + ".";
        var queue = queuePrefix + Topic;
        var rawExchange = context.RunId + "_raw";
        var rawQueue = context.RunId + ".raw";
        await context.Broker.DeclareAsync(exchange, queue, Topic);
        await context.Broker.DeclareAsync(rawExchange, rawQueue, "raw");

        var postbox = new List<Measurement>();
        var raw = new List<Measurement>();
        var prototype = new List<Measurement>();
        for (var repeat = 1; repeat <= o.DrainRepeats; repeat++)
        {
            for (var attempt = 1; ; attempt++)
            {
                var interruptions = context.Broker.Interruptions;
                Measurement p, r;
                Measurement? l;
                try
                {
                    (p, l, r) = await RepeatAsync(repeat, schema, exchange, queuePrefix, queue, rawExchange, rawQueue);
                }
                catch (TimeoutException ex) when (context.Broker.Interruptions != interruptions && attempt < 3)
                {
                    Progress.Say($"  repeat {repeat} stalled after a broker restart ({ex.Message}): measuring it again");
                    continue;
                }

                if (context.Broker.Interruptions == interruptions || attempt == 3)
                {
                    postbox.Add(p);
                    raw.Add(r);
                    if (l is not null)
                    {
                        prototype.Add(l);
                    }

                    break;
                }

                Progress.Say($"  repeat {repeat} spanned a broker restart: measuring it again");
            }
        }

        Summarize(postbox, raw);
        SummarizePrototype(prototype, postbox, raw);
    }

    private async Task<(Measurement Postbox, Measurement? Prototype, Measurement Raw)> RepeatAsync(int repeat, BenchSchema schema, string exchange,
        string queuePrefix, string queue, string rawExchange, string rawQueue)
    {
        var o = context.Options;
        Measurement postbox, raw;
        Measurement? prototype = null;
        {
            var before = await FillAsync(schema, queue);
            await using (var relay = ChildProcess.Start("relay", context.RelayArgs(o.Postgres, schema.Name, "rabbitmq", listen: true, o.PollMilliseconds, exchange, queuePrefix)))
            {
                await relay.WaitForAsync("READY", TimeSpan.FromSeconds(60));
                var m = postbox = await WatchAsync(queue, relay.Pid, o.DrainMessages);
                Progress.Say($"  repeat {repeat} Postbox relay: {m.Rate,9:N0} msg/s, relay CPU {m.CpuPer1000 * 1000:0.0} ms/1k, peak RSS {m.PeakRssMiB:0} MiB");
                await WaitSettledAsync(schema, o.DrainMessages);
            }

            postbox = postbox with { TableBefore = before, TableAfter = await TableBytesAsync(schema) };
            if (o.DrainPrototype && o.Keys == 0)
            {
                before = await FillAsync(schema, queue);
                var args = context.RelayArgs(o.Postgres, schema.Name, "rabbitmq", listen: false, o.PollMilliseconds, exchange, queuePrefix);
                args[0] = "lockrelay";
                await using (var relay = ChildProcess.Start("lockrelay", args))
                {
                    await relay.WaitForAsync("READY", TimeSpan.FromSeconds(60));
                    var m = await WatchAsync(queue, relay.Pid, o.DrainMessages);
                    Progress.Say($"  repeat {repeat} lock-only claim prototype: {m.Rate,9:N0} msg/s, relay CPU {m.CpuPer1000 * 1000:0.0} ms/1k, peak RSS {m.PeakRssMiB:0} MiB");
                    await WaitSettledAsync(schema, o.DrainMessages);
                    prototype = m with { TableBefore = before };
                }

                // Read once the process is gone, as the relay's is.
                prototype = prototype with { TableAfter = await TableBytesAsync(schema) };
            }

            await context.Broker.PurgeAsync(queue);
            await context.Broker.PurgeAsync(rawQueue);
            await using (var publisher = ChildProcess.Start("raw", [
                "rawpublish", "--rabbitmq", o.RabbitMQ, "--exchange", rawExchange, "--routing-key", "raw",
                "--count", o.DrainMessages.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--payload-bytes", o.PayloadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--channels", o.RawChannels.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--window", o.RawWindow.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await publisher.WaitForAsync("READY", TimeSpan.FromSeconds(60));
                await publisher.SendAsync("GO");
                var m = raw = await WatchAsync(rawQueue, publisher.Pid, o.DrainMessages);
                var done = await publisher.WaitForAsync("DONE", TimeSpan.FromSeconds(60));
                if (!done.EndsWith(" 0", StringComparison.Ordinal))
                {
                    context.Report.Note("2. Drain", $"raw publisher reported failures: {done}");
                }

                Progress.Say($"  repeat {repeat} raw publisher: {m.Rate,9:N0} msg/s, publisher CPU {m.CpuPer1000 * 1000:0.0} ms/1k, peak RSS {m.PeakRssMiB:0} MiB");
            }

            await context.Broker.PurgeAsync(rawQueue);
        }

        return (postbox, prototype, raw);
    }

    /// <summary>A fresh backlog of the drain's messages in an empty table and queue; returns the table's size with its indexes.</summary>
    private async Task<long> FillAsync(BenchSchema schema, string queue)
    {
        var o = context.Options;
        await schema.ExecAsync($"TRUNCATE {schema.Outbox}");
        await context.Broker.PurgeAsync(queue);
        await schema.GenerateAsync(o.DrainMessages, Topic, o.PayloadBytes, o.Keys, progress: true);
        return await TableBytesAsync(schema);
    }

    private static Task<long> TableBytesAsync(BenchSchema schema) => schema.ScalarAsync<long>($"SELECT pg_total_relation_size('{schema.Outbox}')");

    private void Summarize(List<Measurement> postbox, List<Measurement> raw)
    {
        var o = context.Options;
        var rate = Stats.Median(postbox.Select(m => m.Rate));
        var rawRate = Stats.Median(raw.Select(m => m.Rate));
        var ratio = rate / rawRate;
        context.Report.Add("2", $"drain msg/s, {o.DrainMessages:N0} msgs → durable queue, persistent, confirms (median of {o.DrainRepeats})",
            Report.F(rate, "N0"), Report.F(rawRate, "N0"), ratio, "≥ 0.90", ratio >= 0.90, key: "drain", rawValue: rawRate);
        var cpu = Stats.Median(postbox.Select(m => m.CpuPer1000));
        var rawCpu = Stats.Median(raw.Select(m => m.CpuPer1000));
        context.Report.Add("2", "CPU s per 1,000 msgs: relay process vs. raw publisher process",
            Report.F(cpu, "0.000"), Report.F(rawCpu, "0.000"), cpu / rawCpu, "report", null, key: "drain-cpu", rawValue: rawCpu);
        var rss = Stats.Median(postbox.Select(m => m.PeakRssMiB));
        var rawRss = Stats.Median(raw.Select(m => m.PeakRssMiB));
        context.Report.Add("6", "peak RSS of the relay process during the drain (MiB) vs. raw publisher", Report.F(rss, "0"), Report.F(rawRss, "0"), rss / rawRss, "≤ 150 MiB", rss <= 150, key: "rss", rawValue: rawRss);

        context.Report.Note("2. Drain", "Each repeat: " + string.Join("; ", postbox.Zip(raw, (p, r) => $"{p.Rate:N0} vs {r.Rate:N0} msg/s")) + ".");
        context.Report.Note("2. Drain", $"Where the CPU goes per 1,000 messages (median): relay {cpu * 1000:0} ms, PostgreSQL {Stats.Median(postbox.Select(m => m.PgPer1000)) * 1000:0} ms, " +
            $"RabbitMQ {Stats.Median(postbox.Select(m => m.BeamPer1000)) * 1000:0} ms; machine busy {Stats.Median(postbox.Select(m => m.MachineBusy)):P0} of {Environment.ProcessorCount} cores. " +
            $"Raw publisher: publisher {rawCpu * 1000:0} ms, PostgreSQL {Stats.Median(raw.Select(m => m.PgPer1000)) * 1000:0} ms, RabbitMQ {Stats.Median(raw.Select(m => m.BeamPer1000)) * 1000:0} ms; " +
            $"machine busy {Stats.Median(raw.Select(m => m.MachineBusy)):P0}.");
    }

    /// <summary>
    /// The lock-only claim prototype's rows: its drain rate against the same run's raw publisher and Postbox relay (median
    /// over median, and each repeat's own ratio in the note), its CPU split, and the table's growth right after the drain
    /// beside the relay's.
    /// </summary>
    private void SummarizePrototype(List<Measurement> prototype, List<Measurement> postbox, List<Measurement> raw)
    {
        if (prototype.Count == 0)
        {
            return;
        }

        var rate = Stats.Median(prototype.Select(m => m.Rate));
        var rawRate = Stats.Median(raw.Select(m => m.Rate));
        context.Report.Add("2", $"lock-only claim **prototype** (bench code, not the library; keyless only): msgs/s drained, median of {prototype.Count}",
            Report.F(rate, "N0"), Report.F(rawRate, "N0"), rate / rawRate, "design check", null, key: "drain-lock", rawValue: rawRate);
        var growth = Stats.Median(prototype.Select(m => m.TableAfter / (double)m.TableBefore));
        var relayGrowth = Stats.Median(postbox.Select(m => m.TableAfter / (double)m.TableBefore));
        context.Report.Add("2", "outbox table + indexes right after / before the drain (autovacuum on): lock-only claim prototype (Postbox relay, same run)",
            $"{Report.F(growth, "0.00")}× ({Report.F(relayGrowth, "0.00")}×)", "—", null, "≤ 1.2×", growth <= 1.2, key: "drain-lock-storage");
        context.Report.Note("2. Drain", "Lock-only claim prototype, each repeat: " + string.Join("; ", prototype.Zip(raw, (m, r) => $"{m.Rate:N0} msg/s ({m.Rate / r.Rate:0.00} of that repeat's bare publisher), table {m.TableBefore / 1048576.0:0} → {m.TableAfter / 1048576.0:0} MiB")) +
            $". CPU per 1,000 messages (median): prototype {Stats.Median(prototype.Select(m => m.CpuPer1000)) * 1000:0} ms, PostgreSQL {Stats.Median(prototype.Select(m => m.PgPer1000)) * 1000:0} ms, " +
            $"RabbitMQ {Stats.Median(prototype.Select(m => m.BeamPer1000)) * 1000:0} ms; machine busy {Stats.Median(prototype.Select(m => m.MachineBusy)):P0}. " +
            "Postbox relay, each repeat: table " + string.Join("; ", postbox.Select(m => $"{m.TableBefore / 1048576.0:0} → {m.TableAfter / 1048576.0:0} MiB")) + ".");
    }

    internal async Task<Measurement> WatchAsync(string queue, int pid, int count)
    {
        var start = (long)Math.Ceiling(count * 0.05);
        var watch = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(120 + count / 500.0);
        var interruptions = context.Broker.Interruptions;
        var (lastDepth, lastProgress) = (-1L, TimeSpan.Zero);
        // Fallback for tiny runs where everything arrives between two polls: measure from the start.
        var origin = Snapshot.Take(pid, 0);
        Snapshot? first = null;
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            var depth = await context.Broker.DepthAsync(queue);
            if (first is null && depth >= start)
            {
                first = Snapshot.Take(pid, depth);
            }

            if (depth >= count)
            {
                var last = Snapshot.Take(pid, depth);
                if (first is null || first.Depth >= last.Depth)
                {
                    first = origin;
                }

                var n = last.Depth - first!.Depth;
                var seconds = last.Time - first.Time;
                return new Measurement(
                    Rate: n / Math.Max(seconds, 1e-3),
                    CpuPer1000: (last.Process - first.Process) / n * 1000,
                    PgPer1000: (last.Postgres - first.Postgres) / n * 1000,
                    BeamPer1000: (last.Beam - first.Beam) / n * 1000,
                    MachineBusy: (last.MachineBusy - first.MachineBusy) / Math.Max(last.MachineTotal - first.MachineTotal, 1e-3),
                    PeakRssMiB: ProcessStats.PeakRssMiB(pid));
            }

            if (depth != lastDepth)
            {
                (lastDepth, lastProgress) = (depth, watch.Elapsed);
            }

            if (watch.Elapsed > timeout || (context.Broker.Interruptions != interruptions && watch.Elapsed - lastProgress > TimeSpan.FromSeconds(10)))
            {
                throw new TimeoutException($"Only {depth:N0} of {count:N0} messages reached queue {queue} within {timeout}.");
            }

            if (watch.Elapsed - lastReport > TimeSpan.FromSeconds(5))
            {
                lastReport = watch.Elapsed;
                Progress.Say($"  {depth,9:N0} / {count:N0} in the queue");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Nothing lost: every message ends delivered (settled by its owner) in the table.</summary>
    private async Task WaitSettledAsync(BenchSchema schema, int count)
    {
        var watch = Stopwatch.StartNew();
        long unsettled;
        // Settled: deleted on confirm (the default) or marked delivered; nothing ready, in flight or scheduled is left.
        while ((unsettled = await schema.ScalarAsync<long>($"SELECT count(*) FROM {schema.Outbox} WHERE state IN (0, 3, 4)")) > 0)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                context.Report.Note("2. Drain", $"**{unsettled:N0} of {count:N0} rows still unsettled after 60 s**");
                return;
            }

            await Task.Delay(50);
        }
    }

    internal sealed record Measurement(double Rate, double CpuPer1000, double PgPer1000, double BeamPer1000, double MachineBusy, double PeakRssMiB)
    {
        /// <summary>The outbox table with its indexes before and after the drain (bytes; 0 when not measured).</summary>
        public long TableBefore { get; init; }

        public long TableAfter { get; init; }
    }

    private sealed record Snapshot(double Time, long Depth, double Process, double Postgres, double Beam, double MachineBusy, double MachineTotal)
    {
        public static Snapshot Take(int pid, long depth)
        {
            var (busy, total) = ProcessStats.Machine();
            return new Snapshot(Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency, depth, ProcessStats.CpuSeconds(pid),
                ProcessStats.CpuSecondsOf("postgres"), ProcessStats.CpuSecondsOf("beam.smp"), busy, total);
        }
    }
}
