using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Transport;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// 9. Storage under steady load: producers commit one message per transaction at a fixed offered rate for a long run
/// while a relay with the library's default options drains them (to a sink that confirms at once, so the store is
/// the subject). The outbox's size and its live and dead tuples are sampled throughout; storage is bounded when the
/// table stops growing once autovacuum has had its first passes.
/// </summary>
internal sealed class SteadyScenario(BenchContext context)
{
    private const string Topic = "bench.steady";

    public async Task RunAsync()
    {
        var o = context.Options;
        Progress.Say($"9. Steady load: {o.SteadyRate:N0} msg/s offered for {o.SteadySeconds:N0} s, default relay options (sink transport)");
        var schema = await context.NewSchemaAsync("steady");
        await using var outbox = BenchContext.CreateOutbox(schema.DataSource, schema.Name, notify: true);

        var sink = new SinkTransport();
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(l => l.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddPostbox().UsePostgreSql(schema.DataSource, p => p.Schema = schema.Name);
        builder.Services.Replace(ServiceDescriptor.Singleton<IOutboxTransport>(sink));
        using var probe = new RelayWindowProbe();
        using var host = builder.Build();
        await host.StartAsync();

        var samples = new List<Sample>();
        var payload = Payload.Create(o.PayloadBytes);
        var total = (int)(o.SteadyRate * o.SteadySeconds);
        long produced = 0;
        var watch = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var sampler = SampleAsync(schema, sink, probe, () => Interlocked.Read(ref produced), watch, samples, stop.Token);
        var achieved = await OpenLoop.RunAsync(o.SteadyRate, total, async i =>
        {
            await schema.PlaceOrderAsync(outbox.Outbox, new OutboxMessage(Topic, payload) { Type = "OrderPlaced" });
            Interlocked.Increment(ref produced);
        }, workers: 64); // a transaction takes 10-30 ms on a busy machine: enough callers to keep the offered rate

        // Let the relay catch up, then one more sample.
        var settle = Stopwatch.StartNew();
        while (sink.Count < total && settle.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
        }

        await Task.Delay(TimeSpan.FromSeconds(Math.Min(o.SteadySampleSeconds, 5)));
        await stop.CancelAsync();
        await sampler;
        samples.Add(await ReadAsync(schema, sink, probe, Interlocked.Read(ref produced), watch));
        await host.StopAsync();
        Report(achieved, total, sink.Count, samples);
    }

    private void Report(double achieved, int total, long published, List<Sample> samples)
    {
        var o = context.Options;
        // Bounded: the second half of the run never needs more than 1.2× the largest size of the first half. Halves of the
        // run as it went (the producers send rate × seconds messages, which takes longer where the rate is not reached).
        var middle = samples[^1].Seconds / 2;
        var half = samples.Where(s => s.Seconds <= middle).Select(s => s.TotalBytes).DefaultIfEmpty(0).Max();
        var late = samples.Where(s => s.Seconds > middle).Select(s => s.TotalBytes).DefaultIfEmpty(0).Max();
        var maxDead = samples.Max(s => s.Dead);
        var end = samples[^1];
        context.Report.Add("9", $"steady {o.SteadyRate:N0}/s offered for {o.SteadySeconds:N0} s (achieved {achieved:N0}/s, {published:N0} of {total:N0} published), default options: outbox table + indexes, max of 2nd half / max of 1st half (MiB)",
            $"{late / 1048576.0:N1} / {half / 1048576.0:N1}", "—", half > 0 ? (double)late / half : null, "bounded (≤ 1.2×)", half > 0 && late <= 1.2 * half);
        context.Report.Add("9", "same run: dead tuples, max / at the end (pg_stat_user_tables)", $"{maxDead:N0} / {end.Dead:N0}", "—", null, "bounded", null);

        var curve = new StringBuilder("curve (every sample: s, produced, published, table+indexes MiB, heap MiB, live, dead tuples, autovacuum runs; " +
            "the relay's claims in the window and the slowest claim ms, batches and the slowest batch ms; busy backends by wait event): ");
        curve.AppendJoin("; ", samples.Select(s => string.Create(CultureInfo.InvariantCulture,
            $"{s.Seconds:0} s {s.Produced:N0} {s.Published:N0} {s.TotalBytes / 1048576.0:0.0} {s.HeapBytes / 1048576.0:0.0} {s.Live:N0} {s.Dead:N0} {s.Autovacuums} | {s.Relay.Claims} {s.Relay.ClaimMaxMs:0} {s.Relay.Batches} {s.Relay.BatchMaxMs:0} | {s.Waits}")));
        context.Report.Note("9. Steady load", curve.ToString());
    }

    private async Task SampleAsync(BenchSchema schema, SinkTransport sink, RelayWindowProbe probe, Func<long> produced, Stopwatch watch, List<Sample> samples, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(context.Options.SteadySampleSeconds);
        var next = interval;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(next - watch.Elapsed > TimeSpan.Zero ? next - watch.Elapsed : TimeSpan.Zero, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var sample = await ReadAsync(schema, sink, probe, produced(), watch);
            samples.Add(sample);
            Progress.Say(string.Create(CultureInfo.InvariantCulture,
                $"  {sample.Seconds,5:0} s: {sample.Produced:N0} produced, {sample.Published:N0} published, {sample.TotalBytes / 1048576.0:0.0} MiB ({sample.HeapBytes / 1048576.0:0.0} heap), {sample.Live:N0} live / {sample.Dead:N0} dead, autovacuum {sample.Autovacuums}; " +
                $"relay {sample.Relay.Claims} claims (slowest {sample.Relay.ClaimMaxMs:0} ms), {sample.Relay.Batches} batches (slowest {sample.Relay.BatchMaxMs:0} ms); busy: {sample.Waits}"));
            next += interval;
        }
    }

    private static async Task<Sample> ReadAsync(BenchSchema schema, SinkTransport sink, RelayWindowProbe probe, long produced, Stopwatch watch)
    {
        // What the database's busy sessions wait on right now (none: on the CPU), the relay's and the producers' alike.
        string waits;
        await using (var activity = schema.DataSource.CreateCommand("""
            SELECT coalesce(string_agg(w || '×' || n, ' ' ORDER BY n DESC), '-') FROM (
                SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu') AS w, count(*) AS n FROM pg_stat_activity
                WHERE state = 'active' AND datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1) x
            """))
        {
            waits = (string)(await activity.ExecuteScalarAsync())!;
        }

        await using var command = schema.DataSource.CreateCommand($"""
            SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), s.n_live_tup, s.n_dead_tup, s.autovacuum_count
            FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = '{schema.Outbox}'::regclass
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Sample(watch.Elapsed.TotalSeconds, produced, sink.Count, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
            probe.Take(), waits);
    }

    private sealed record Sample(double Seconds, long Produced, long Published, long TotalBytes, long HeapBytes, long Live, long Dead, long Autovacuums,
        (long Claims, double ClaimMaxMs, long Batches, double BatchMaxMs) Relay, string Waits);
}
