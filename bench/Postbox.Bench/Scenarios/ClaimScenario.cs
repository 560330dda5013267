using System.Diagnostics;
using Postbox.PostgreSql;
using Postbox.Storage;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// 7. Claim cost by backlog shape: the time of one claim of a full batch on a large backlog that is plain (keyless, or
/// spread over 1,000 keys) and on one shaped adversarially — one key whose head is in flight with all but 1,000 of the
/// messages blocked behind it, plus 1,000 other keys with one message each. The claim must cost about the same: it is
/// bounded by the batch size, not by the backlog (docs/ordering.md). Each claim is undone before the next, so every
/// measurement sees the same backlog.
/// </summary>
internal sealed class ClaimScenario(BenchContext context)
{
    private const int Claims = 15;

    public async Task RunAsync()
    {
        var o = context.Options;
        var count = o.BacklogLarge;
        var others = Math.Min(1000, Math.Max(1, count / 10));
        Progress.Say($"7. Claim cost: batch {o.BatchSize} on {count:N0} pending messages, plain vs. one blocked key holding {count - others - 1:N0}");

        var keyless = await MeasureAsync("claim_keyless", count, async s => await s.GenerateAsync(count, "bench.claim", 64, 0, progress: true));
        var keyed = await MeasureAsync("claim_keyed", count, async s => await s.GenerateAsync(count, "bench.claim", 64, others, progress: true));
        var adversarial = await MeasureAsync("claim_blocked", count, async s =>
        {
            await s.GenerateAsync(count - others, "bench.claim", 64, 1, progress: true); // every message on key-0
            // key-0's head is in flight under another relay's lease: the key and its followers are blocked.
            await s.ExecAsync($"UPDATE {s.Outbox} SET state = 3, lease_owner = 'elsewhere', available_at = now() + interval '1 day' WHERE seq = (SELECT min(seq) FROM {s.Outbox})");
            await s.ExecAsync($$"""
                INSERT INTO {{s.Outbox}} (id, state, topic, key, type, payload, created_at, available_at)
                SELECT gen_random_uuid(), 0, 'bench.claim', 'other-' || g, 'BenchEvent', '\x00'::bytea, now(), now()
                FROM generate_series(1, {{others}}) AS g
                """);
            await s.ExecAsync($"VACUUM ANALYZE {s.Outbox}");
        });

        var ratio = adversarial.Median / keyed.Median;
        context.Report.Add("7", $"claim ms (batch {o.BatchSize}), {count:N0} backlog: one key blocking {count - others - 1:N0} vs. plain keyed",
            Report.F(adversarial.Median, "0.0"), Report.F(keyed.Median, "0.0"), ratio, "bounded (≤ 2×)", ratio <= 2);
        context.Report.Note("7. Claim", $"median of {Claims} claims: keyless {keyless.Median:0.0} ms ({keyless.Claimed} msgs), keyed over {others:N0} keys " +
            $"{keyed.Median:0.0} ms ({keyed.Claimed} msgs), adversarial {adversarial.Median:0.0} ms ({adversarial.Claimed} msgs from the {others:N0} other keys).");
    }

    private async Task<(double Median, int Claimed)> MeasureAsync(string suffix, int count, Func<BenchSchema, Task> fill)
    {
        var schema = await context.NewSchemaAsync(suffix);
        await fill(schema);
        await schema.ExecAsync($"VACUUM ANALYZE {schema.Outbox}");
        var store = new PostgreSqlOutboxStore(schema.DataSource, new PostgreSqlOptions { Schema = schema.Name });
        var times = new List<double>();
        var claimed = 0;
        for (var i = 0; i < Claims + 2; i++)
        {
            var now = DateTimeOffset.UtcNow;
            var watch = Stopwatch.StartNew();
            var result = await store.ClaimAsync(new ClaimRequest("bench", context.Options.BatchSize, now, now.AddMinutes(1), true), CancellationToken.None);
            watch.Stop();
            if (i >= 2)
            {
                times.Add(watch.Elapsed.TotalMilliseconds); // the first two warm the caches and the plan
            }

            claimed = result.Messages.Count;
            await schema.ExecAsync($"UPDATE {schema.Outbox} SET state = 0, lease_owner = NULL, available_at = now() WHERE lease_owner = 'bench'");
        }

        Progress.Say($"  {suffix}: {count:N0} backlog, claim median {Stats.Median(times):0.0} ms, {claimed} claimed");
        return (Stats.Median(times), claimed);
    }
}
