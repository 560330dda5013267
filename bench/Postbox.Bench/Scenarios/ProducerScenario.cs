using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// 1. Producer cost: the same business transaction (insert one order row, synchronous commit) with and without one
/// outbox message, 16 concurrent clients, modes alternating in rounds so background noise hits all of them alike.
/// The modes: plain; <see cref="IOutbox"/> with and without NOTIFY (a statement of its own, so a third round trip);
/// <see cref="Postbox.PostgreSql.PostgreSqlOutbox"/> in the caller's batch with and without NOTIFY (the plain
/// transaction's two round trips); and one hand-written row in a minimal table in the same batch, the floor any
/// transactional outbox pays, so the ratios split into round trips, Postbox's row and NOTIFY.
/// Then the bulk path: 1,000 messages per transaction through Postbox vs. a binary COPY of the same rows.
/// </summary>
internal sealed class ProducerScenario(BenchContext context)
{
    private const string Topic = "bench.orders";

    public async Task RunAsync()
    {
        var o = context.Options;
        Progress.Say($"1. Producer cost: {o.ProducerClients} clients, {o.ProducerSeconds:0.#} s per mode in {o.Rounds} rounds");
        var schema = await context.NewSchemaAsync("producer");
        var payload = Payload.Create(o.PayloadBytes);
        await using var notifying = BenchContext.CreateOutbox(schema.DataSource, schema.Name, notify: true);
        await using var quiet = BenchContext.CreateOutbox(schema.DataSource, schema.Name, notify: false);
        var insertOrder = $"INSERT INTO \"{schema.Name}\".orders (customer, amount) VALUES ($1, $2)";
        // The floor of any transactional outbox: one more row in the same transaction and round trip, in the smallest
        // table that can still be relayed (an id to dedupe on, a destination, the body), written by hand.
        await schema.ExecAsync($"CREATE TABLE \"{schema.Name}\".bare_outbox (id uuid PRIMARY KEY, topic text NOT NULL, payload bytea NOT NULL)");
        var insertBare = $"INSERT INTO \"{schema.Name}\".bare_outbox (id, topic, payload) VALUES ($1, $2, $3)";

        async Task Order(NpgsqlConnection connection, NpgsqlTransaction transaction)
        {
            await using var command = new NpgsqlCommand(insertOrder, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "customer-42" });
            command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = 99.95m });
            await command.ExecuteNonQueryAsync();
        }

        var modes = new (string Name, Func<NpgsqlConnection, NpgsqlTransaction, Task> Body)[]
        {
            ("plain", Order),
            ("outbox+notify", async (c, t) =>
            {
                await Order(c, t);
                await notifying.Outbox.EnqueueAsync(t, new OutboxMessage(Topic, payload) { Type = "OrderPlaced" });
            }),
            ("outbox", async (c, t) =>
            {
                await Order(c, t);
                await quiet.Outbox.EnqueueAsync(t, new OutboxMessage(Topic, payload) { Type = "OrderPlaced" });
            }),
            ("bare-row", async (c, t) =>
            {
                await using var batch = new NpgsqlBatch(c, t);
                var order = new NpgsqlBatchCommand(insertOrder);
                order.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "customer-42" });
                order.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = 99.95m });
                var row = new NpgsqlBatchCommand(insertBare);
                row.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Guid.CreateVersion7() });
                row.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Topic });
                row.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = payload });
                batch.BatchCommands.Add(order);
                batch.BatchCommands.Add(row);
                await batch.ExecuteNonQueryAsync();
            }),
            ("outbox-in-batch", (c, t) => InBatchAsync(c, t, notifying.Batched)),
            ("in-batch-quiet", (c, t) => InBatchAsync(c, t, quiet.Batched)),
        };
        async Task InBatchAsync(NpgsqlConnection c, NpgsqlTransaction t, Postbox.PostgreSql.PostgreSqlOutbox outbox)
        {
            // PostgreSqlOutbox: the outbox insert rides in the same round trip as the business insert.
            await using var batch = new NpgsqlBatch(c, t);
            var order = new NpgsqlBatchCommand(insertOrder);
            order.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "customer-42" });
            order.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = 99.95m });
            batch.BatchCommands.Add(order);
            foreach (var command in outbox.CreateEnqueueCommands([new OutboxMessage(Topic, payload) { Type = "OrderPlaced" }]))
            {
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync();
        }

        var perMode = await RunRoundsAsync(schema, modes, o.ProducerClients, o.ProducerSeconds);
        var plain = perMode["plain"];
        foreach (var (name, label) in new[]
        {
            ("outbox+notify", "1 msg/tx, NOTIFY on (default)"), ("outbox", "1 msg/tx, NOTIFY off"),
            ("outbox-in-batch", "1 msg/tx in the caller's batch (PostgreSqlOutbox), NOTIFY on"),
            ("in-batch-quiet", "1 msg/tx in the caller's batch, NOTIFY off"),
        })
        {
            var ratio = perMode[name] / plain;
            context.Report.Add("1", $"business tx/s with {label} vs. without", Report.F(perMode[name], "N0"), Report.F(plain, "N0"), ratio, "≥ 0.90", ratio >= 0.90,
                key: name == "outbox+notify" ? "producer" : null, rawValue: plain);
        }

        var bare = perMode["bare-row"];
        context.Report.Add("1", "business tx/s with one hand-written row in a minimal outbox table (uuid key, topic, payload) in the same round trip: the floor any outbox pays",
            Report.F(bare, "N0"), Report.F(plain, "N0"), bare / plain, "cap", null, rawValue: plain);
        context.Report.Add("1", "business tx/s, Postbox in the caller's batch with NOTIFY off vs. that minimal row (what Postbox's own row costs above the floor)",
            Report.F(perMode["in-batch-quiet"], "N0"), Report.F(bare, "N0"), perMode["in-batch-quiet"] / bare, "report", null);

        // Bulk: 1,000 messages per transaction.
        var outbox = schema.Outbox;
        var copySql = $"COPY {outbox} (id, state, topic, key, type, payload, headers, created_at, available_at) FROM STDIN (FORMAT BINARY)";
        var bulkModes = new (string Name, Func<NpgsqlConnection, NpgsqlTransaction, Task> Body)[]
        {
            ("copy", async (c, t) =>
            {
                await using var writer = await c.BeginBinaryImportAsync(copySql);
                var now = DateTime.UtcNow;
                for (var i = 0; i < o.BulkSize; i++)
                {
                    await writer.StartRowAsync();
                    await writer.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
                    await writer.WriteAsync((short)0, NpgsqlDbType.Smallint);
                    await writer.WriteAsync(Topic, NpgsqlDbType.Text);
                    await writer.WriteNullAsync();
                    await writer.WriteAsync("OrderPlaced", NpgsqlDbType.Text);
                    await writer.WriteAsync(payload, NpgsqlDbType.Bytea);
                    await writer.WriteNullAsync();
                    await writer.WriteAsync(now, NpgsqlDbType.TimestampTz);
                    await writer.WriteAsync(now, NpgsqlDbType.TimestampTz);
                }

                await writer.CompleteAsync();
            }),
            ("postbox", async (_, t) =>
            {
                var messages = new OutboxMessage[o.BulkSize];
                for (var i = 0; i < messages.Length; i++)
                {
                    messages[i] = new OutboxMessage(Topic, payload) { Type = "OrderPlaced" };
                }

                await quiet.Outbox.EnqueueAsync(t, messages);
            }),
        };
        Progress.Say($"1b. Bulk path: {o.BulkSize} messages per transaction, {o.BulkClients} clients, {o.ProducerSeconds / 2:0.#} s per mode");
        var bulk = await RunRoundsAsync(schema, bulkModes, o.BulkClients, o.ProducerSeconds / 2);
        var bulkRatio = bulk["postbox"] / bulk["copy"];
        context.Report.Add("1", $"bulk: rows/s, {o.BulkSize} msgs/tx (Postbox unnest insert vs. binary COPY)",
            Report.F(bulk["postbox"] * o.BulkSize, "N0"), Report.F(bulk["copy"] * o.BulkSize, "N0"), bulkRatio, "report", null);
        context.Report.Note("1. Producer", $"plain {plain:N0} tx/s, outbox+NOTIFY {perMode["outbox+notify"]:N0} tx/s, outbox without NOTIFY {perMode["outbox"]:N0} tx/s, outbox in the caller's batch {perMode["outbox-in-batch"]:N0} tx/s (NOTIFY off {perMode["in-batch-quiet"]:N0}), " +
            $"one hand-written row in a minimal table {bare:N0} tx/s; " +
            $"{o.ProducerClients} clients, synchronous_commit on, modes alternated over {o.Rounds} rounds.");
    }

    private async Task<Dictionary<string, double>> RunRoundsAsync(BenchSchema schema,
        (string Name, Func<NpgsqlConnection, NpgsqlTransaction, Task> Body)[] modes, int clients, double seconds)
    {
        var rounds = context.Options.Rounds;
        var counts = modes.ToDictionary(m => m.Name, _ => 0L, StringComparer.Ordinal);
        var elapsed = modes.ToDictionary(m => m.Name, _ => 0.0, StringComparer.Ordinal);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, body) in modes)
            {
                var (count, time) = await ClosedLoopAsync(schema.DataSource, clients, TimeSpan.FromSeconds(seconds / rounds), body);
                counts[name] += count;
                elapsed[name] += time;
                Progress.Say($"  round {round + 1}/{rounds} {name,-14} {count / time,10:N0} tx/s");
            }
        }

        return modes.ToDictionary(m => m.Name, m => counts[m.Name] / elapsed[m.Name], StringComparer.Ordinal);
    }

    /// <summary>Runs transactions back to back on <paramref name="clients"/> connections for <paramref name="duration"/>.</summary>
    internal static async Task<(long Count, double Seconds)> ClosedLoopAsync(NpgsqlDataSource dataSource, int clients, TimeSpan duration,
        Func<NpgsqlConnection, NpgsqlTransaction, Task> body)
    {
        long count = 0;
        var watch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (watch.Elapsed < duration)
            {
                await using var connection = await dataSource.OpenConnectionAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                await body(connection, transaction);
                await transaction.CommitAsync();
                Interlocked.Increment(ref count);
            }
        })).ToArray();
        await Task.WhenAll(workers);
        return (count, watch.Elapsed.TotalSeconds);
    }
}
