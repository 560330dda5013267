using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using Postbox.MySql;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// The MySQL/MariaDB rows (Postbox.MySql): producer cost and drain against MySQL's own raw limits, measured in the same
/// run on the same servers as the PostgreSQL rows.
/// <list type="bullet">
/// <item>Producer: the business transaction (insert one order row, commit) with and without one outbox message through
/// <see cref="IOutbox"/>, 16 clients, modes alternating in rounds. Bulk: 1,000 messages per transaction through Postbox
/// (one multi-row INSERT) vs. the same rows by a hand-written multi-row INSERT in the same transaction shape.</item>
/// <item>Drain: N pre-enqueued messages published by a relay process (Postbox.MySql store) to a durable queue vs. the
/// bare publisher process of scenario 2, measured the same way (queue depth between 5 % and 100 %).</item>
/// </list>
/// </summary>
internal sealed class MySqlScenario(BenchContext context)
{
    private const string Topic = "bench.mysql";

    public async Task RunAsync()
    {
        var o = context.Options;
        var database = context.RunId + "_mysql";
        var server = new MySqlConnectionStringBuilder(o.MySql);
        var connectionString = new MySqlConnectionStringBuilder(o.MySql) { Database = database, MaximumPoolSize = 100 }.ConnectionString;
        await ExecAsync(server.ConnectionString, $"CREATE DATABASE `{database}` CHARACTER SET utf8mb4");
        try
        {
            await using var dataSource = new MySqlDataSource(connectionString);
            await new MySqlMigrator(dataSource, new MySqlOptions { ConnectionString = connectionString }).MigrateAsync();
            await ExecAsync(connectionString, "CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(100) NOT NULL, amount DECIMAL(12, 2) NOT NULL) ENGINE = InnoDB");
            var version = await ScalarAsync<string>(connectionString, "SELECT CONCAT(VERSION(), ', innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit)");
            context.Report.Note("MySQL", $"Server {version}, on 127.0.0.1 with the other servers and the harness.");
            await ProducerAsync(dataSource, connectionString);
            await DrainAsync(dataSource, connectionString);
        }
        finally
        {
            MySqlConnection.ClearAllPools();
            await ExecAsync(server.ConnectionString, $"DROP DATABASE IF EXISTS `{database}`");
        }
    }

    private async Task ProducerAsync(MySqlDataSource dataSource, string connectionString)
    {
        var o = context.Options;
        Progress.Say($"1m. MySQL producer cost: {o.ProducerClients} clients, {o.ProducerSeconds:0.#} s per mode in {o.Rounds} rounds");
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPostbox(p => p.Relay.Enabled = false).UseMySql(connectionString);
        await using var provider = services.BuildServiceProvider();
        var outbox = provider.GetRequiredService<IOutbox>();
        var payload = Payload.Create(o.PayloadBytes);

        static async Task Order(MySqlConnection connection, MySqlTransaction transaction)
        {
            await using var command = new MySqlCommand("INSERT INTO orders (customer, amount) VALUES (@c, @a)", connection, transaction);
            command.Parameters.AddWithValue("@c", "customer-42");
            command.Parameters.AddWithValue("@a", 99.95m);
            await command.ExecuteNonQueryAsync();
        }

        var perMode = await RunRoundsAsync(dataSource, o.ProducerClients, o.ProducerSeconds,
        [
            ("plain", Order),
            ("outbox", async (c, t) =>
            {
                await Order(c, t);
                await outbox.EnqueueAsync(t, new OutboxMessage(Topic, payload) { Type = "OrderPlaced" });
            }),
        ]);
        var ratio = perMode["outbox"] / perMode["plain"];
        context.Report.Add("1m", "MySQL: business tx/s with 1 msg/tx via IOutbox vs. without", Report.F(perMode["outbox"], "N0"), Report.F(perMode["plain"], "N0"),
            ratio, "≥ 0.90", ratio >= 0.90);

        // Bulk: Postbox's multi-row insert vs. the same rows written by hand (no validation, no header serialization).
        var headers = "{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}";
        var bulk = await RunRoundsAsync(dataSource, o.BulkClients, o.ProducerSeconds / 2,
        [
            ("raw", async (c, t) =>
            {
                await using var command = new MySqlCommand { Connection = c, Transaction = t };
                var sql = new System.Text.StringBuilder(
                    "INSERT INTO postbox_outbox (id, state, topic, `key`, type, payload, headers, created_at, available_at, max_attempts) VALUES ");
                var now = DateTime.UtcNow;
                command.Parameters.AddWithValue("@t", Topic);
                command.Parameters.AddWithValue("@y", "OrderPlaced");
                command.Parameters.AddWithValue("@p", payload);
                command.Parameters.AddWithValue("@h", headers);
                command.Parameters.AddWithValue("@n", now);
                for (var i = 0; i < o.BulkSize; i++)
                {
                    sql.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $"(@i{i},0,@t,NULL,@y,@p,@h,@n,@n,NULL)");
                    command.Parameters.AddWithValue($"@i{i}", Guid.CreateVersion7().ToByteArray(bigEndian: true));
                }

                command.CommandText = sql.ToString();
                await command.ExecuteNonQueryAsync();
            }),
            ("postbox", async (_, t) =>
            {
                var messages = new OutboxMessage[o.BulkSize];
                for (var i = 0; i < messages.Length; i++)
                {
                    messages[i] = new OutboxMessage(Topic, payload) { Type = "OrderPlaced" };
                    messages[i].Headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
                }

                await outbox.EnqueueAsync(t, messages);
            }),
        ]);
        var bulkRatio = bulk["postbox"] / bulk["raw"];
        context.Report.Add("1m", $"MySQL bulk: rows/s, {o.BulkSize} msgs/tx (Postbox multi-row INSERT vs. the same INSERT by hand)",
            Report.F(bulk["postbox"] * o.BulkSize, "N0"), Report.F(bulk["raw"] * o.BulkSize, "N0"), bulkRatio, "report", null);
        context.Report.Note("1m. MySQL producer", $"plain {perMode["plain"]:N0} tx/s, outbox {perMode["outbox"]:N0} tx/s; {o.ProducerClients} clients, " +
            $"modes alternated over {o.Rounds} rounds. Bulk {bulk["postbox"] * o.BulkSize:N0} vs {bulk["raw"] * o.BulkSize:N0} rows/s with {o.BulkClients} clients.");
        await ExecAsync(connectionString, "TRUNCATE TABLE postbox_outbox");
    }

    private async Task DrainAsync(MySqlDataSource dataSource, string connectionString)
    {
        var o = context.Options;
        Progress.Say($"2m. MySQL drain: {o.DrainMessages:N0} messages, {o.DrainRepeats} repeat(s), relay and raw publisher alternating");
        var exchange = context.RunId + "_mdrain";
        var queuePrefix = context.RunId + ".m.";
        var queue = queuePrefix + Topic;
        var rawExchange = context.RunId + "_mraw";
        var rawQueue = context.RunId + ".mraw";
        await context.Broker.DeclareAsync(exchange, queue, Topic);
        await context.Broker.DeclareAsync(rawExchange, rawQueue, "raw");
        var drain = new DrainScenario(context);
        var postbox = new List<DrainScenario.Measurement>();
        var raw = new List<DrainScenario.Measurement>();
        for (var repeat = 1; repeat <= o.DrainRepeats; repeat++)
        {
            await ExecAsync(connectionString, "TRUNCATE TABLE postbox_outbox");
            await context.Broker.PurgeAsync(queue);
            await GenerateAsync(connectionString, o.DrainMessages, o.PayloadBytes, o.Keys);
            await using (var relay = ChildProcess.Start("relay",
            [
                "relay", "--mysql", connectionString, "--transport", "rabbitmq",
                "--poll-ms", o.PollMilliseconds.ToString(CultureInfo.InvariantCulture),
                "--batch-size", o.BatchSize.ToString(CultureInfo.InvariantCulture),
                "--in-flight", o.InFlightBatches.ToString(CultureInfo.InvariantCulture),
                "--rabbitmq", o.RabbitMQ, "--exchange", exchange, "--queue-prefix", queuePrefix,
            ]))
            {
                await relay.WaitForAsync("READY", TimeSpan.FromSeconds(60));
                var m = await drain.WatchAsync(queue, relay.Pid, o.DrainMessages);
                postbox.Add(m);
                Progress.Say($"  repeat {repeat} Postbox relay on MySQL: {m.Rate,9:N0} msg/s, relay CPU {m.CpuPer1000 * 1000:0.0} ms/1k");
                await WaitSettledAsync(connectionString, o.DrainMessages);
            }

            await context.Broker.PurgeAsync(queue);
            await context.Broker.PurgeAsync(rawQueue);
            await using (var publisher = ChildProcess.Start("raw",
            [
                "rawpublish", "--rabbitmq", o.RabbitMQ, "--exchange", rawExchange, "--routing-key", "raw",
                "--count", o.DrainMessages.ToString(CultureInfo.InvariantCulture), "--payload-bytes", o.PayloadBytes.ToString(CultureInfo.InvariantCulture),
                "--channels", o.RawChannels.ToString(CultureInfo.InvariantCulture), "--window", o.RawWindow.ToString(CultureInfo.InvariantCulture),
            ]))
            {
                await publisher.WaitForAsync("READY", TimeSpan.FromSeconds(60));
                await publisher.SendAsync("GO");
                var m = await drain.WatchAsync(rawQueue, publisher.Pid, o.DrainMessages);
                raw.Add(m);
                await publisher.WaitForAsync("DONE", TimeSpan.FromSeconds(60));
                Progress.Say($"  repeat {repeat} raw publisher: {m.Rate,9:N0} msg/s");
            }

            await context.Broker.PurgeAsync(rawQueue);
        }

        var rate = Stats.Median(postbox.Select(m => m.Rate));
        var rawRate = Stats.Median(raw.Select(m => m.Rate));
        context.Report.Add("2m", $"MySQL drain msg/s, {o.DrainMessages:N0} msgs → durable queue, persistent, confirms (median of {o.DrainRepeats})",
            Report.F(rate, "N0"), Report.F(rawRate, "N0"), rate / rawRate, "≥ 0.90", rate / rawRate >= 0.90);
        var cpu = Stats.Median(postbox.Select(m => m.CpuPer1000));
        var rawCpu = Stats.Median(raw.Select(m => m.CpuPer1000));
        context.Report.Add("2m", "MySQL: CPU s per 1,000 msgs: relay process vs. raw publisher process", Report.F(cpu, "0.000"), Report.F(rawCpu, "0.000"), cpu / rawCpu, "report", null);
        context.Report.Note("2m. MySQL drain", "Each repeat: " + string.Join("; ", postbox.Zip(raw, (p, r) => $"{p.Rate:N0} vs {r.Rate:N0} msg/s")) + ".");
    }

    // Server-side, in chunks: ids are UUIDv7-shaped in enqueue order, as the writer would store them.
    private static async Task GenerateAsync(string connectionString, int count, int payloadBytes, int keys)
    {
        const int chunk = 50_000;
        for (var start = 0; start < count; start += chunk)
        {
            var n = Math.Min(chunk, count - start);
            await using var connection = new MySqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new MySqlCommand($$"""
                SET STATEMENT max_recursive_iterations = 1000000 FOR
                INSERT INTO postbox_outbox (id, state, topic, `key`, type, payload, headers, created_at, available_at)
                WITH RECURSIVE g (n) AS (SELECT @from UNION ALL SELECT n + 1 FROM g WHERE n < @to)
                SELECT UNHEX(CONCAT(LPAD(HEX(FLOOR(UNIX_TIMESTAMP(NOW(6)) * 1000)), 12, '0'), '7', LPAD(HEX(n % 4096), 3, '0'), '8', LPAD(HEX(n), 15, '0'))),
                       0, @topic, IF(@keys > 0, CONCAT('key-', n % GREATEST(@keys, 1)), NULL), 'BenchEvent', @payload,
                       '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
                FROM g
                """, connection);
            command.CommandTimeout = 600;
            command.Parameters.AddWithValue("@from", (long)start + 1);
            command.Parameters.AddWithValue("@to", (long)start + n);
            command.Parameters.AddWithValue("@topic", Topic);
            command.Parameters.AddWithValue("@keys", keys);
            command.Parameters.AddWithValue("@payload", Payload.Create(payloadBytes));
            await command.ExecuteNonQueryAsync();
        }

        await ExecAsync(connectionString, "ANALYZE TABLE postbox_outbox");
    }

    private async Task WaitSettledAsync(string connectionString, int count)
    {
        var watch = Stopwatch.StartNew();
        long unsettled;
        // Settled: deleted on confirm (the default) or marked delivered; nothing ready, in flight or scheduled is left.
        while ((unsettled = await ScalarAsync<long>(connectionString, "SELECT count(*) FROM postbox_outbox WHERE state IN (0, 3, 4)")) > 0)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                context.Report.Note("2m. MySQL drain", $"**{unsettled:N0} of {count:N0} rows still unsettled after 60 s**");
                return;
            }

            await Task.Delay(50);
        }
    }

    private async Task<Dictionary<string, double>> RunRoundsAsync(MySqlDataSource dataSource, int clients, double seconds,
        (string Name, Func<MySqlConnection, MySqlTransaction, Task> Body)[] modes)
    {
        var rounds = context.Options.Rounds;
        var counts = modes.ToDictionary(m => m.Name, _ => 0L, StringComparer.Ordinal);
        var elapsed = modes.ToDictionary(m => m.Name, _ => 0.0, StringComparer.Ordinal);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, body) in modes)
            {
                var (count, time) = await ClosedLoopAsync(dataSource, clients, TimeSpan.FromSeconds(seconds / rounds), body);
                counts[name] += count;
                elapsed[name] += time;
                Progress.Say($"  round {round + 1}/{rounds} {name,-14} {count / time,10:N0} tx/s");
            }
        }

        return modes.ToDictionary(m => m.Name, m => counts[m.Name] / elapsed[m.Name], StringComparer.Ordinal);
    }

    private static async Task<(long Count, double Seconds)> ClosedLoopAsync(MySqlDataSource dataSource, int clients, TimeSpan duration,
        Func<MySqlConnection, MySqlTransaction, Task> body)
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

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), CultureInfo.InvariantCulture);
    }
}
