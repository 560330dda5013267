using System.Diagnostics;
using Npgsql;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// 4. Idle: a relay process (default options: LISTEN/NOTIFY plus the 1 s polling fallback) against a database of
/// its own, so PostgreSQL's per-database counters (<c>pg_stat_database.xact_commit + xact_rollback</c>) count its
/// transactions only, whatever else runs on the server. Then the reaction to the first message after idling.
/// </summary>
internal sealed class IdleScenario(BenchContext context)
{
    private const string Topic = "bench.idle";

    public async Task RunAsync()
    {
        var o = context.Options;
        var database = context.RunId + "_idle";
        Progress.Say($"4. Idle: relay against private database {database} for {o.IdleSeconds:0.#} s");
        await using (var create = context.DataSource.CreateCommand($"CREATE DATABASE \"{database}\""))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(o.Postgres) { Database = database }.ConnectionString;
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await using (var schema = await BenchSchema.CreateAsync(dataSource, "bench"))
            {
                await RunAsync(connectionString, schema, database);
            }

            NpgsqlConnection.ClearAllPools();
        }
        finally
        {
            await using var drop = context.DataSource.CreateCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }

    private async Task RunAsync(string connectionString, BenchSchema schema, string database)
    {
        var o = context.Options;
        var exchange = context.RunId + "_idle";
        var queuePrefix = context.RunId + ".";
        await context.Broker.DeclareAsync(exchange, queuePrefix + Topic, Topic);
        await using var consumer = await LatencyConsumer.StartAsync(context.Broker.Connection, queuePrefix + Topic);
        // The relay keeps the default 1 s poll here unless the run is a smoke run.
        var pollMs = o.Smoke ? o.PollMilliseconds : 1000;
        await using var relay = ChildProcess.Start("relay", context.RelayArgs(connectionString, schema.Name, "rabbitmq", listen: true, pollMs, exchange, queuePrefix));
        await relay.WaitForAsync("READY", TimeSpan.FromSeconds(60));

        // One message first, so the relay's broker connection is open (as in any relay that has been running).
        await using var outbox = BenchContext.CreateOutbox(schema.DataSource, schema.Name, notify: true);
        await SendOneAsync(schema, outbox, consumer, o.PayloadBytes);

        // Statistics reach the shared counters up to 10 s late (PGSTAT_IDLE_INTERVAL): let start-up settle first,
        // then take the difference over the window; both ends lag alike.
        await Task.Delay(TimeSpan.FromSeconds(o.Smoke ? 0.5 : 12));
        var (x0, t0) = (await TransactionsAsync(database), Stopwatch.GetTimestamp());
        var cpu0 = ProcessStats.CpuSeconds(relay.Pid);
        await Task.Delay(TimeSpan.FromSeconds(o.IdleSeconds));
        var (x1, seconds) = (await TransactionsAsync(database), Stopwatch.GetElapsedTime(t0).TotalSeconds);
        var cpu = ProcessStats.CpuSeconds(relay.Pid) - cpu0;
        var perSecond = (x1 - x0) / seconds;

        // Reaction: one message through the outbox (NOTIFY on, the default), commit → consumer handler.
        var latency = await SendOneAsync(schema, outbox, consumer, o.PayloadBytes);
        context.Report.Add("4", $"idle relay: transactions/s against its database over {o.IdleSeconds:0} s (pg_stat_database)",
            Report.F(perSecond, "0.00"), "—", null, "≤ 1/s", perSecond <= 1.0, key: "idle");
        context.Report.Add("4", "first message after idling: commit → handler (ms)",
            latency.Length > 0 ? Report.F(latency[0], "0.0") : "lost", "—", null, "report", null, key: "idle-first");
        context.Report.Note("4. Idle", $"{x1 - x0:N0} transactions in {seconds:0.0} s; relay CPU while idle {cpu / seconds * 100:0.00} % of a core; poll interval {pollMs} ms, LISTEN on.");
    }

    private static async Task<double[]> SendOneAsync(BenchSchema schema, ProducerOutbox outbox, LatencyConsumer consumer, int payloadBytes)
    {
        var tracker = new LatencyTracker([Guid.CreateVersion7()]);
        consumer.Tracker = tracker;
        await using (var connection = await schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.Outbox.EnqueueAsync(transaction, new OutboxMessage(Topic, Payload.Create(payloadBytes)) { Id = tracker.Ids[0] });
            await transaction.CommitAsync();
            tracker.Sent(0);
        }

        var watch = Stopwatch.StartNew();
        while (tracker.ReceivedCount == 0 && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(1);
        }

        return tracker.Latencies(0).Sorted;
    }

    private async Task<long> TransactionsAsync(string database)
    {
        await using var command = context.DataSource.CreateCommand("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
