using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// The peer: the producer, drain, latency and idle scenarios run against Wolverine's durable outbox (PostgreSQL +
/// RabbitMQ with publisher confirms) on the same servers, in the same run. Wolverine lives in its own program
/// (bench/Postbox.Bench.Wolverine) started as a child process, so no Postbox project references it and its CPU and
/// memory can be read from /proc like the relay's. Each figure goes beside the matching Postbox row of the table, with
/// its ratio to the same raw limit; the peer's settings are listed in bench/README.md.
/// </summary>
internal sealed class WolverineScenario(BenchContext context)
{
    private const string RoutingKey = "wolverine";

    public async Task RunAsync()
    {
        var o = context.Options;
        Progress.Say($"P. Peer: Wolverine (recovery batch {o.PeerRecoveryBatch}, polling {o.PeerPollMilliseconds} ms, confirms {o.PeerConfirms})");
        var schema = await context.NewSchemaAsync("wolverine");
        var exchange = context.RunId + "_wolverine";
        var queue = context.RunId + ".wolverine";
        var latencyQueue = context.RunId + ".wolverine-lat";
        await context.Broker.DeclareAsync(exchange, queue, RoutingKey);
        await context.Broker.DeclareAsync(exchange, latencyQueue, RoutingKey + "-lat");
        await ProducerAsync(schema, queue);
        await DrainAsync(schema, queue, o.PeerConfirms, report: true);
        if (o.PeerConfirms)
        {
            // Wolverine's default (its docs: the outbox is the guarantee, confirms add latency), for comparison only:
            // without confirms a publish the broker then loses is deleted from the outbox all the same.
            await DrainAsync(schema, queue, confirms: false, report: false);
        }
        await using (var consumer = await LatencyConsumer.StartAsync(context.Broker.Connection, latencyQueue))
        {
            await LatencyAsync(schema, latencyQueue, consumer);
            await IdleAsync(latencyQueue, consumer, o.PeerRecoveryBatch, o.PeerPollMilliseconds, report: true);
            // Wolverine's defaults (recovery batch 100, polling 5 s) for comparison: idle is where polling shows.
            await IdleAsync(latencyQueue, consumer, 100, 5000, report: false);
        }
    }

    /// <summary>1. Business tx/s with one message through Wolverine's outbox vs. the plain transaction, alternating in rounds.</summary>
    private async Task ProducerAsync(BenchSchema schema, string queue)
    {
        var o = context.Options;
        Progress.Say($"P1. Wolverine producer: {o.ProducerClients} clients, {o.ProducerSeconds:0.#} s per mode in {o.Rounds} rounds, alternating with the plain transaction");
        var insertOrder = $"INSERT INTO \"{schema.Name}\".orders (customer, amount) VALUES ($1, $2)";
        var seconds = o.ProducerSeconds / o.Rounds;
        long peerCount = 0, plainCount = 0;
        double peerTime = 0, plainTime = 0;
        await using var peer = await StartPeerAsync("wolverine", o.Postgres, schema.Name, queue, agent: true);
        // Warm-up, not counted: a fresh node's first transactions pay for JIT and the broker channel, which the
        // harness's own Postbox producer (in a process that has run before) does not.
        var warmup = Math.Max(0.5, seconds);
        await peer.SendAsync(Invariant($"PRODUCE {warmup} {o.ProducerClients}"));
        await peer.WaitForAsync("PRODUCED", TimeSpan.FromSeconds(warmup + 120));
        for (var round = 0; round < o.Rounds; round++)
        {
            // Wolverine sends from the producing process after each commit; let it finish before the plain round.
            await WaitOutboxEmptyAsync(schema.DataSource, schema.Name, TimeSpan.FromSeconds(60));
            var (count, time) = await ProducerScenario.ClosedLoopAsync(schema.DataSource, o.ProducerClients, TimeSpan.FromSeconds(seconds), async (c, t) =>
            {
                await using var command = new NpgsqlCommand(insertOrder, c, t);
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "customer-42" });
                command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = 99.95m });
                await command.ExecuteNonQueryAsync();
            });
            (plainCount, plainTime) = (plainCount + count, plainTime + time);
            Progress.Say($"  round {round + 1}/{o.Rounds} plain          {count / time,10:N0} tx/s");

            await peer.SendAsync(Invariant($"PRODUCE {seconds} {o.ProducerClients}"));
            var words = (await peer.WaitForAsync("PRODUCED", TimeSpan.FromSeconds(seconds + 120))).Split(' ');
            var (n, s) = (long.Parse(words[1], CultureInfo.InvariantCulture), double.Parse(words[2], CultureInfo.InvariantCulture));
            (peerCount, peerTime) = (peerCount + n, peerTime + s);
            Progress.Say($"  round {round + 1}/{o.Rounds} wolverine      {n / s,10:N0} tx/s");
        }

        var left = await WaitOutboxEmptyAsync(schema.DataSource, schema.Name, TimeSpan.FromSeconds(60));
        await context.Broker.PurgeAsync(queue);
        var (rate, plain) = (peerCount / peerTime, plainCount / plainTime);
        context.Report.AddPeer("producer", "1", "business tx/s with 1 msg/tx vs. without", Report.F(rate, "N0"), rate / plain, Report.F(plain, "N0"));
        context.Report.Note("P. Wolverine", $"Producer: {rate:N0} tx/s through Wolverine's outbox vs. {plain:N0} tx/s plain, measured in {o.Rounds} alternating rounds in this scenario " +
            "(the Wolverine ratio is against this plain rate). Each transaction: insert the order, `EnlistInOutboxAsync(new DatabaseEnvelopeTransaction(store, tx))`, " +
            "`PublishAsync` (its insert into `wolverine_outgoing_envelopes`, a separate round trip as with `IOutbox`), commit, `FlushOutgoingMessagesAsync`. " +
            "Unlike Postbox's producer row (relay off), Wolverine has no producer-only mode: after each commit the producing process itself publishes the message " +
            $"(with confirms) and deletes its row, so that work shares the cores during its rounds.{(left > 0 ? $" {left:N0} rows were still unsent 60 s after the last round." : "")}");
    }

    /// <summary>2. and 6. N messages pre-enqueued in Wolverine's outbox (unowned), recovered and sent by a fresh node.</summary>
    private async Task DrainAsync(BenchSchema schema, string queue, bool confirms, bool report)
    {
        var o = context.Options;
        var n = o.PeerDrainMessages;
        Progress.Say($"P2. Wolverine drain: {n:N0} messages pre-enqueued through its outbox, then recovered and sent by a fresh node (confirms {(confirms ? "on" : "off")})");
        await schema.ExecAsync($"TRUNCATE \"{schema.Name}\".wolverine_outgoing_envelopes");
        await context.Broker.PurgeAsync(queue);
        await using (var seeder = await StartPeerAsync("wolverine-seed", o.Postgres, schema.Name, queue, agent: false))
        {
            await seeder.SendAsync(Invariant($"SEED {n}"));
            await seeder.WaitForAsync("SEEDED", TimeSpan.FromSeconds(120 + n / 200.0));
        }

        // Unowned, as after a node that enqueued them went away: any node's durability agent recovers them.
        await schema.ExecAsync($"UPDATE \"{schema.Name}\".wolverine_outgoing_envelopes SET owner_id = 0");
        await schema.ExecAsync($"ANALYZE \"{schema.Name}\".wolverine_outgoing_envelopes");
        var seeded = await OutgoingAsync(schema.DataSource, schema.Name);
        Progress.Say($"  {seeded:N0} rows in wolverine_outgoing_envelopes");

        DrainScenario.Measurement m;
        await using (var relay = await StartPeerAsync("wolverine-relay", o.Postgres, schema.Name, queue, agent: true, confirms: confirms))
        {
            try
            {
                m = await context.Broker.MeasureAsync("Wolverine drain", () => new DrainScenario(context).WatchAsync(queue, relay.Pid, n));
            }
            catch (TimeoutException ex) when (!report)
            {
                context.Report.Note("P. Wolverine", $"Drain without confirms: n/a: {ex.Message}");
                return;
            }
            catch (TimeoutException ex)
            {
                context.Report.AddPeer("drain", "2", $"drain msg/s, {n:N0} msgs → durable queue, persistent, confirms", $"n/a: {ex.Message}", null);
                return;
            }

            Progress.Say($"  Wolverine: {m.Rate,9:N0} msg/s, process CPU {m.CpuPer1000 * 1000:0.0} ms/1k, peak RSS {m.PeakRssMiB:0} MiB");
            var left = await WaitOutboxEmptyAsync(schema.DataSource, schema.Name, TimeSpan.FromSeconds(60));
            if (left > 0)
            {
                context.Report.Note("P. Wolverine", $"**drain: {left:N0} of {n:N0} rows still in wolverine_outgoing_envelopes 60 s after the last reached the queue**");
            }
        }

        await context.Broker.PurgeAsync(queue);
        if (!report)
        {
            context.Report.Note("P. Wolverine", $"Drain with publisher confirms **off** (Wolverine's default), same sizes, for comparison only: {m.Rate:N0} msg/s, " +
                $"process CPU {m.CpuPer1000 * 1000:0} ms per 1,000, PostgreSQL {m.PgPer1000 * 1000:0} ms, RabbitMQ {m.BeamPer1000 * 1000:0} ms.");
            return;
        }

        var rawRate = context.Report.RawOf("drain");
        var rawCpu = context.Report.RawOf("drain-cpu");
        var rawRss = context.Report.RawOf("rss");
        context.Report.AddPeer("drain", "2", $"drain msg/s, {n:N0} msgs → durable queue, persistent, confirms", Report.F(m.Rate, "N0"), m.Rate / rawRate);
        context.Report.AddPeer("drain-cpu", "2", "CPU s per 1,000 msgs: sending process", Report.F(m.CpuPer1000, "0.000"), m.CpuPer1000 / rawCpu);
        context.Report.AddPeer("rss", "6", "peak RSS of the sending process during the drain (MiB)", Report.F(m.PeakRssMiB, "0"), m.PeakRssMiB / rawRss);
        context.Report.Note("P. Wolverine", $"Drain: {seeded:N0} messages stored through Wolverine's own outbox API (1,000 per transaction, not flushed), set unowned " +
            $"(`owner_id = 0`), then a fresh node's durability agent recovers them ({o.PeerRecoveryBatch:N0} per tick, a tick every {o.PeerPollMilliseconds} ms) and its durable " +
            $"sending agent publishes them (persistent, confirms {(o.PeerConfirms ? "on" : "off")}) and deletes their rows. Rate measured from the queue depth between 5 % and 100 %, once " +
            $"(not the median of {o.DrainRepeats}). CPU per 1,000: process {m.CpuPer1000 * 1000:0} ms, PostgreSQL {m.PgPer1000 * 1000:0} ms, RabbitMQ {m.BeamPer1000 * 1000:0} ms; " +
            $"machine busy {m.MachineBusy:P0}.");
    }

    /// <summary>3. Commit → handler at each offered rate, producer in the Wolverine process, raw consumer here (one monotonic clock).</summary>
    private async Task LatencyAsync(BenchSchema schema, string queue, LatencyConsumer consumer)
    {
        var o = context.Options;
        foreach (var rate in o.Rates)
        {
            Progress.Say($"P3. Wolverine latency at {rate:N0}/s offered, {o.LatencySeconds:0.#} s (+{o.WarmupSeconds:0.#} s warm-up)");
            await schema.ExecAsync($"TRUNCATE \"{schema.Name}\".wolverine_outgoing_envelopes");
            await context.Broker.PurgeAsync(queue);
            var total = (int)(rate * (o.WarmupSeconds + o.LatencySeconds));
            var path = Path.Combine(Path.GetTempPath(), $"{context.RunId}-wolverine-{rate}.txt");
            var receipts = new ReceiptLog();
            consumer.Receipts = receipts;
            double achieved;
            await using (var peer = await StartPeerAsync("wolverine", o.Postgres, schema.Name, queue, agent: true))
            {
                // A producer that cannot keep up stops offering at 1.5× the planned duration (+5 s).
                var deadline = (o.WarmupSeconds + o.LatencySeconds) * 1.5 + 5;
                await peer.SendAsync(Invariant($"LATENCY {rate} {total} {deadline} {path}"));
                var line = await peer.WaitForAsync("LATENCY", TimeSpan.FromSeconds(deadline + 300));
                achieved = double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
                var watch = Stopwatch.StartNew();
                var expected = (await File.ReadAllLinesAsync(path)).Length;
                while (receipts.Count < expected && watch.Elapsed < TimeSpan.FromSeconds(15))
                {
                    await Task.Delay(20);
                }
            }

            consumer.Receipts = null;
            var sent = (await File.ReadAllLinesAsync(path)).Select(l => l.Split(' ')).Select(w => (Id: Guid.Parse(w[0]), Ticks: long.Parse(w[1], CultureInfo.InvariantCulture))).ToArray();
            File.Delete(path);
            var latencies = new List<double>();
            var missing = 0;
            // Warm-up by time, not by count: a producer that falls behind the offered rate commits fewer than
            // rate × warm-up messages in the warm-up seconds.
            var warmupEnd = sent.Length == 0 ? 0 : sent.Min(x => x.Ticks) + (long)(o.WarmupSeconds * Stopwatch.Frequency);
            foreach (var (id, ticks) in sent.Where(x => x.Ticks >= warmupEnd))
            {
                if (receipts.TryGet(id, out var received))
                {
                    latencies.Add(Math.Max(0, (received - ticks) * 1000.0 / Stopwatch.Frequency));
                }
                else
                {
                    missing++;
                }
            }

            var sorted = latencies.Order().ToArray();
            var rawP99 = context.Report.RawOf($"latency-{rate}");
            var text = sorted.Length == 0 ? "n/a: nothing arrived"
                : $"{Stats.Percentile(sorted, 50):0.0} / {Stats.Percentile(sorted, 95):0.0} / {Stats.Percentile(sorted, 99):0.0} / {sorted[^1]:0.0}";
            if (missing > 0)
            {
                text += $" ({missing:N0} not within 15 s)";
            }

            if (achieved < rate * 0.95)
            {
                text += $" (reached {achieved:N0}/s)";
            }

            Progress.Say($"  Wolverine {rate:N0}/s: {text}, achieved {achieved:N0}/s");
            context.Report.AddPeer($"latency-{rate}", "3", $"commit → handler ms p50/p95/p99/max at {rate:N0}/s", text,
                sorted.Length > 0 ? rawP99 / Stats.Percentile(sorted, 99) : null);
            context.Report.Note("P. Wolverine", $"Latency {rate:N0}/s: the producer in the Wolverine process reached {achieved:N0} tx/s offered; {sorted.Length:N0} measured, " +
                $"{missing:N0} not received within 15 s of the last commit. Wolverine publishes from the producing process right after the commit (no relay, no wake-up): " +
                "the figure is commit returned → raw consumer's handler, Stopwatch ticks of both processes (CLOCK_MONOTONIC). Ratio = raw p99 / Wolverine p99.");
        }
    }

    /// <summary>4. Transactions/s an idle Wolverine node issues against a database of its own, then the first message after idling.</summary>
    private async Task IdleAsync(string queue, LatencyConsumer consumer, int recoveryBatch, int pollMs, bool report)
    {
        var o = context.Options;
        var database = context.RunId + "_wolverine_idle";
        Progress.Say($"P4. Wolverine idle (recovery batch {recoveryBatch}, polling {pollMs} ms) against private database {database} for {o.IdleSeconds:0.#} s");
        await using (var create = context.DataSource.CreateCommand($"CREATE DATABASE \"{database}\""))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(o.Postgres) { Database = database }.ConnectionString;
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await using var schema = await BenchSchema.CreateAsync(dataSource, "bench");
            double perSecond, cpu, seconds;
            long transactions;
            double? first;
            await using (var peer = await StartPeerAsync("wolverine-idle", connectionString, schema.Name, queue, agent: true, recoveryBatch, pollMs))
            {
                // One message first, so the broker connection and the sending agent are up, as in any running node.
                await SendOneAsync(peer, consumer);
                await Task.Delay(TimeSpan.FromSeconds(o.Smoke ? 0.5 : 12));
                var (x0, t0, cpu0) = (await TransactionsAsync(database), Stopwatch.GetTimestamp(), ProcessStats.CpuSeconds(peer.Pid));
                await Task.Delay(TimeSpan.FromSeconds(o.IdleSeconds));
                var x1 = await TransactionsAsync(database);
                seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                cpu = ProcessStats.CpuSeconds(peer.Pid) - cpu0;
                transactions = x1 - x0;
                perSecond = transactions / seconds;
                first = await SendOneAsync(peer, consumer);
            }

            Progress.Say($"  Wolverine idle: {perSecond:0.00} transactions/s, first message {first:0.0} ms");
            if (report)
            {
                context.Report.AddPeer("idle", "4", $"idle: transactions/s against its database over {o.IdleSeconds:0} s (pg_stat_database)", Report.F(perSecond, "0.00"), null);
                context.Report.AddPeer("idle-first", "4", "first message after idling: commit → handler (ms)", first is { } f ? Report.F(f, "0.0") : "lost", null);
            }

            context.Report.Note("P. Wolverine", $"Idle with recovery batch {recoveryBatch} and polling {pollMs} ms{(report ? " (the settings of every other peer figure)" : " (Wolverine's defaults)")}: " +
                $"{transactions:N0} transactions in {seconds:0.0} s = {perSecond:0.00}/s; node CPU while idle {cpu / seconds * 100:0.00} % of a core; " +
                $"first message after idling {(first is { } g ? Report.F(g, "0.0") + " ms" : "lost")}. Besides the recovery poll, an idle Wolverine node runs its health check " +
                "(10 s), node-assignment check (5 s), metrics sampling and handled-envelope cleanup.");
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var drop = context.DataSource.CreateCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }

    private static async Task<double?> SendOneAsync(ChildProcess peer, LatencyConsumer consumer)
    {
        var receipts = new ReceiptLog();
        consumer.Receipts = receipts;
        await peer.SendAsync("ONE");
        var words = (await peer.WaitForAsync("ONE", TimeSpan.FromSeconds(30))).Split(' ');
        var (id, ticks) = (Guid.Parse(words[1]), long.Parse(words[2], CultureInfo.InvariantCulture));
        var watch = Stopwatch.StartNew();
        long received;
        while (!receipts.TryGet(id, out received) && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(1);
        }

        consumer.Receipts = null;
        return received == 0 ? null : Math.Max(0, (received - ticks) * 1000.0 / Stopwatch.Frequency);
    }

    private async Task<ChildProcess> StartPeerAsync(string name, string connectionString, string schema, string queue, bool agent,
        int? recoveryBatch = null, int? pollMs = null, bool? confirms = null)
    {
        var o = context.Options;
        var peer = ChildProcess.Start(name, PeerDll(),
        [
            "--pg", connectionString, "--schema", schema, "--queue", queue, "--rabbitmq", o.RabbitMQ,
            "--confirms", (confirms ?? o.PeerConfirms).ToString(), "--agent", agent.ToString(),
            "--recovery-batch", Invariant($"{recoveryBatch ?? o.PeerRecoveryBatch}"), "--poll-ms", Invariant($"{pollMs ?? o.PeerPollMilliseconds}"),
            "--payload-bytes", Invariant($"{o.PayloadBytes}"),
        ]);
        try
        {
            await peer.WaitForAsync("READY", TimeSpan.FromSeconds(120));
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }

        return peer;
    }

    /// <summary>The peer's program: beside the harness's own output folder (bin/Postbox.Bench.Wolverine/&lt;config&gt;), or POSTBOX_BENCH_PEER_DLL.</summary>
    private static string PeerDll()
    {
        if (Environment.GetEnvironmentVariable("POSTBOX_BENCH_PEER_DLL") is { Length: > 0 } configured)
        {
            return configured;
        }

        var own = Path.GetDirectoryName(typeof(WolverineScenario).Assembly.Location)!;
        var candidates = new[]
        {
            Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(own)!)!, "Postbox.Bench.Wolverine", Path.GetFileName(own), "Postbox.Bench.Wolverine.dll"),
            Path.Combine(own, "Postbox.Bench.Wolverine.dll"),
        };
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"The Wolverine peer is not built: none of {string.Join(", ", candidates)} exists (build bench/Postbox.Bench, or set POSTBOX_BENCH_PEER_DLL).");
    }

    private static async Task<long> OutgoingAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM \"{schema}\".wolverine_outgoing_envelopes");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Waits until Wolverine has sent (and deleted) every outgoing row; returns how many are left.</summary>
    private static async Task<long> WaitOutboxEmptyAsync(NpgsqlDataSource dataSource, string schema, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        long left;
        while ((left = await OutgoingAsync(dataSource, schema)) > 0 && watch.Elapsed < timeout)
        {
            await Task.Delay(100);
        }

        return left;
    }

    private async Task<long> TransactionsAsync(string database)
    {
        await using var command = context.DataSource.CreateCommand("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
