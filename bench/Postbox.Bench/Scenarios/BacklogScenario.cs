using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Transport;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// 5. Backlog scale: the drain rate of a small vs. a large backlog. The relay publishes to a sink that confirms at once,
/// so the figure is the store's claim/settle rate, which is what could degrade with table size. Table size and dead
/// tuples (pgstattuple, exact) before and after.
/// </summary>
internal sealed class BacklogScenario(BenchContext context)
{
    private const string Topic = "bench.backlog";

    public async Task RunAsync()
    {
        var o = context.Options;
        Progress.Say($"5. Backlog scale: {o.BacklogSmall:N0} vs. {o.BacklogLarge:N0} pending messages (sink transport)");
        var small = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            small.Add((await DrainAsync(o.BacklogSmall, $"backlog_s{i}")).Rate);
        }

        var large = await DrainAsync(o.BacklogLarge, "backlog_l", deliveredRetention: null, awaitAutovacuum: !o.Smoke);
        var smallRate = Stats.Median(small);
        var ratio = large.Rate / smallRate;
        context.Report.Add("5", $"drain msg/s: {o.BacklogLarge:N0} backlog vs. {o.BacklogSmall:N0} (median of 3)", Report.F(large.Rate, "N0"), Report.F(smallRate, "N0"), ratio,
            "same (≥ 0.90)", ratio >= 0.90);
        context.Report.Note("5. Backlog", $"{o.BacklogLarge:N0} backlog, default options (delete on delivery): table+indexes {large.Before} before → {large.After} right after the drain → " +
            $"{large.Settled} after the table's next autovacuum ({large.SettledAfter.TotalSeconds:0} s after the drain{(large.SettledProblem is { } why ? "; " + why : "")}).");
        AddGrowth("default options (delete on delivery), right after the drain", large.BytesBefore, large.BytesAfter);
        if (large.SettledProblem is { } problem)
        {
            // No figure rather than a wrong one: the size would not be "after a vacuum of what the drain left".
            context.Report.Add("5", $"outbox table + indexes after / before draining {o.BacklogLarge:N0}, default options, after the next autovacuum (MiB)",
                $"not measured: {problem}", "—", null, "≤ 1.2×", null);
        }
        else if (large.BytesSettled is { } settled)
        {
            AddGrowth("default options, after the next autovacuum", large.BytesBefore, settled);
        }

        // The same backlog with the delivered history kept for an hour (the default before session 20).
        var keeping = await DrainAsync(o.BacklogLarge, "backlog_k", deliveredRetention: TimeSpan.FromHours(1), awaitAutovacuum: false);
        context.Report.Note("5. Backlog", $"{o.BacklogLarge:N0} backlog, DeliveredRetention 1 h (history kept in the table): table+indexes {keeping.Before} before → {keeping.After} after, {keeping.Rate:N0} msg/s " +
            "(delivered rows are live data until cleanup purges them an hour later).");
        AddGrowth("DeliveredRetention 1 h (delivered history kept)", keeping.BytesBefore, keeping.BytesAfter);
        context.Report.Note("5. Backlog", $"{o.BacklogSmall:N0} backlog rates: {string.Join(", ", small.Select(r => r.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)))} msg/s.");
    }

    private void AddGrowth(string settings, long before, long after) =>
        context.Report.Add("5", $"outbox table + indexes after / before draining {context.Options.BacklogLarge:N0}, {settings} (MiB)",
            $"{after / 1048576.0:N0} / {before / 1048576.0:N0}", "—", (double)after / before, "≤ 1.2×", after <= 1.2 * before);

    private async Task<Drained> DrainAsync(int count, string suffix, TimeSpan? deliveredRetention = null, bool awaitAutovacuum = false)
    {
        var schema = await context.NewSchemaAsync(suffix);
        await schema.GenerateAsync(count, Topic, context.Options.PayloadBytes, context.Options.Keys, progress: true);
        await schema.ExecAsync($"CREATE EXTENSION IF NOT EXISTS pgstattuple SCHEMA \"{schema.Name}\"");
        var extension = await schema.ScalarAsync<string>(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgstattuple'");
        var before = await FiguresAsync(schema, extension);
        var bytesBefore = await schema.ScalarAsync<long>($"SELECT pg_total_relation_size('{schema.Outbox}')");

        var sink = new SinkTransport();
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(l => l.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddPostbox(p =>
            {
                p.Relay.BatchSize = context.Options.BatchSize;
                p.Relay.MaxInFlightBatches = context.Options.InFlightBatches;
                if (deliveredRetention is { } retention)
                {
                    p.Relay.DeliveredRetention = retention;
                }
            })
            .UsePostgreSql(schema.DataSource, p => p.Schema = schema.Name);
        builder.Services.Replace(ServiceDescriptor.Singleton<IOutboxTransport>(sink));
        using var host = builder.Build();

        var start = (long)Math.Ceiling(count * 0.05);
        await host.StartAsync();
        var watch = Stopwatch.StartNew();
        double? t0 = null;
        long n0 = 0;
        var lastReport = TimeSpan.Zero;
        while (sink.Count < count)
        {
            var n = sink.Count;
            if (t0 is null && n >= start)
            {
                (t0, n0) = (watch.Elapsed.TotalSeconds, n);
            }

            if (watch.Elapsed - lastReport > TimeSpan.FromSeconds(5))
            {
                lastReport = watch.Elapsed;
                Progress.Say($"  {n,9:N0} / {count:N0} drained");
            }

            if (watch.Elapsed > TimeSpan.FromSeconds(60 + count / 1000.0))
            {
                throw new TimeoutException($"Backlog of {count:N0} not drained: {n:N0} published.");
            }

            await Task.Delay(2);
        }

        var rate = (count - n0) / Math.Max(watch.Elapsed.TotalSeconds - (t0 ?? 0), 1e-3);
        // Wait for the last settles before stopping and measuring.
        while (await schema.ScalarAsync<bool>($"SELECT EXISTS (SELECT 1 FROM {schema.Outbox} WHERE state IN (0, 3))") && watch.Elapsed < TimeSpan.FromSeconds(600))
        {
            await Task.Delay(20);
        }

        await host.StopAsync();
        var drained = Stopwatch.StartNew();
        string? problem = null;
        if (awaitAutovacuum)
        {
            // A vacuum that began during the drain cannot remove what the drain's last statements left dead, yet its
            // end counts as an autovacuum: wait it out, so the count below moves only for one that starts afterwards.
            if (await WhileVacuumingAsync(schema, drained, TimeSpan.FromMinutes(3)))
            {
                problem = "a vacuum that began during the drain was still running 3 min after it";
            }
        }

        var vacuums = await AutovacuumsAsync(schema);
        var after = await FiguresAsync(schema, extension);
        var bytesAfter = await schema.ScalarAsync<long>($"SELECT pg_total_relation_size('{schema.Outbox}')");
        Progress.Say($"  backlog {count:N0}: {rate:N0} msg/s; before {before}; after {after}");
        if (!awaitAutovacuum)
        {
            return new Drained(rate, before, after, bytesBefore, bytesAfter, null, null, TimeSpan.Zero);
        }

        // What the table keeps once autovacuum (default naptime 1 min) has had its pass over the dead versions: the
        // space it frees is reused by later messages, and empty pages at the end of the heap are given back.
        while (await AutovacuumsAsync(schema) <= vacuums && drained.Elapsed < TimeSpan.FromMinutes(5))
        {
            await Task.Delay(1000);
        }

        if (await AutovacuumsAsync(schema) <= vacuums)
        {
            problem ??= $"no autovacuum of the table within {drained.Elapsed.TotalMinutes:0} min of the drain";
        }

        if (await WhileVacuumingAsync(schema, drained, TimeSpan.FromMinutes(8)))
        {
            problem ??= "the vacuum after the drain was still running 8 min after it";
        }

        var settled = await FiguresAsync(schema, extension);
        var bytesSettled = await schema.ScalarAsync<long>($"SELECT pg_total_relation_size('{schema.Outbox}')");
        Progress.Say($"  after the next autovacuum ({drained.Elapsed.TotalSeconds:0} s): {settled}{(problem is null ? "" : $" ({problem})")}");
        return new Drained(rate, before, after, bytesBefore, bytesAfter, settled, bytesSettled, drained.Elapsed) { SettledProblem = problem };
    }

    /// <summary>Waits while a vacuum of the outbox runs, until <paramref name="limit"/> after <paramref name="since"/> started; true when one still runs then.</summary>
    private static async Task<bool> WhileVacuumingAsync(BenchSchema schema, Stopwatch since, TimeSpan limit)
    {
        while (await schema.ScalarAsync<bool>($"SELECT EXISTS (SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = '{schema.Outbox}'::regclass)"))
        {
            if (since.Elapsed >= limit)
            {
                return true;
            }

            await Task.Delay(500);
        }

        return false;
    }

    private static Task<long> AutovacuumsAsync(BenchSchema schema) =>
        schema.ScalarAsync<long>($"SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = '{schema.Outbox}'::regclass");

    private static async Task<string> FiguresAsync(BenchSchema schema, string extension)
    {
        var total = await schema.ScalarAsync<long>($"SELECT pg_total_relation_size('{schema.Outbox}')");
        var dead = await schema.ScalarAsync<long>($"SELECT dead_tuple_count FROM \"{extension}\".pgstattuple('{schema.Outbox}')");
        var live = await schema.ScalarAsync<long>($"SELECT tuple_count FROM \"{extension}\".pgstattuple('{schema.Outbox}')");
        return $"{total / 1048576.0:0.0} MiB, {live:N0} live / {dead:N0} dead tuples";
    }

    private sealed record Drained(double Rate, string Before, string After, long BytesBefore, long BytesAfter, string? Settled, long? BytesSettled, TimeSpan SettledAfter)
    {
        /// <summary>Why the "after the next autovacuum" size is not that (a wait timed out); null when it is.</summary>
        public string? SettledProblem { get; init; }
    }
}
