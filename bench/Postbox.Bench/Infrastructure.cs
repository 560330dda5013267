using System.Diagnostics;
using System.Text;
using Npgsql;
using Postbox.PostgreSql;
using RabbitMQ.Client;

namespace Postbox.Bench;

/// <summary>A private, migrated PostgreSQL schema (plus a business table) for one run; dropped afterwards.</summary>
internal sealed class BenchSchema : IAsyncDisposable
{
    private BenchSchema(NpgsqlDataSource dataSource, string name)
    {
        (DataSource, Name) = (dataSource, name);
    }

    public NpgsqlDataSource DataSource { get; }

    public string Name { get; }

    public string Outbox => $"\"{Name}\".outbox";

    public static async Task<BenchSchema> CreateAsync(NpgsqlDataSource dataSource, string name)
    {
        await new PostgreSqlMigrator(dataSource, new PostgreSqlOptions { Schema = name }).MigrateAsync();
        var schema = new BenchSchema(dataSource, name);
        await schema.ExecAsync($"""
            CREATE TABLE "{name}".orders (
                id          bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                customer    text          NOT NULL,
                amount      numeric(12,2) NOT NULL,
                created_at  timestamptz   NOT NULL DEFAULT now())
            """);
        return schema;
    }

    public async Task ExecAsync(string sql, params object[] args)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var a in args)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = a });
        }

        command.CommandTimeout = 600;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// The business transaction the producer and latency figures are made of: insert an order row and enqueue
    /// <paramref name="message"/> through <paramref name="outbox"/> in one transaction, committed synchronously.
    /// </summary>
    public async Task PlaceOrderAsync(IOutbox outbox, OutboxMessage message)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand($"INSERT INTO \"{Name}\".orders (customer, amount) VALUES ($1, $2)", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "customer-42" });
            command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = 99.95m });
            await command.ExecuteNonQueryAsync();
        }

        await outbox.EnqueueAsync(transaction, message);
        await transaction.CommitAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        command.CommandTimeout = 600;
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Enqueues <paramref name="count"/> ready messages server-side (chunks of 100,000, one statement each), as the
    /// bulk writer would store them: UUIDv7-shaped ids in enqueue order, a traceparent header, the given payload size.
    /// </summary>
    public async Task GenerateAsync(int count, string topic, int payloadBytes, int keys, bool progress)
    {
        const int chunk = 100_000;
        for (var start = 0; start < count; start += chunk)
        {
            var n = Math.Min(chunk, count - start);
            await ExecAsync($$"""
                INSERT INTO {{Outbox}} (id, state, topic, key, type, payload, headers, created_at, available_at)
                SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || lpad(to_hex(g % 4096), 3, '0')
                        || '8' || lpad(to_hex(g), 15, '0'))::uuid,
                       0, $1, CASE WHEN $4 > 0 THEN 'key-' || (g % $4) END, 'BenchEvent', $5::bytea,
                       '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'::jsonb, now(), now()
                FROM generate_series($2::bigint, $3::bigint) AS g
                """, topic, (long)start + 1, (long)start + n, keys, Payload.Create(payloadBytes));
            if (progress && count > chunk)
            {
                Progress.Say($"  enqueued {start + n:N0} / {count:N0}");
            }
        }

        await ExecAsync($"ANALYZE {Outbox}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ExecAsync($"DROP SCHEMA IF EXISTS \"{Name}\" CASCADE");
        }
        catch (NpgsqlException ex)
        {
            Progress.Say($"  !! could not drop schema {Name}: {ex.Message}");
        }
    }
}

/// <summary>The message body used everywhere: JSON-looking ASCII of a fixed size.</summary>
internal static class Payload
{
    public static byte[] Create(int size)
    {
        var text = new StringBuilder("{\"orderId\":12345,\"customer\":\"c-42\",\"note\":\"");
        while (text.Length < size - 2)
        {
            text.Append('x');
        }

        text.Append("\"}");
        return Encoding.ASCII.GetBytes(text.ToString()[..Math.Max(size, 2)]);
    }
}

/// <summary>Raw RabbitMQ.Client helpers: private exchange/queues, depth polling, cleanup.</summary>
internal sealed class BenchBroker : IAsyncDisposable
{
    private readonly List<string> _queues = [];
    private readonly List<string> _exchanges = [];
    private int _interruptions;

    private BenchBroker(IConnection connection, IChannel channel)
    {
        (Connection, Channel) = (connection, channel);
    }

    public IConnection Connection { get; }

    public IChannel Channel { get; }

    public string Version => Connection.ServerProperties?.TryGetValue("version", out var v) == true && v is byte[] b ? Encoding.UTF8.GetString(b) : "?";

    public static async Task<BenchBroker> ConnectAsync(string uri)
    {
        // Other test suites restart the broker (stop_app/start_app) now and then: recover, and let scenarios notice.
        var connection = await new ConnectionFactory
        {
            Uri = new Uri(uri), ClientProvidedName = "postbox-bench", AutomaticRecoveryEnabled = true, NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
        }.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        var broker = new BenchBroker(connection, channel);
        connection.ConnectionShutdownAsync += (_, _) =>
        {
            Interlocked.Increment(ref broker._interruptions);
            return Task.CompletedTask;
        };
        return broker;
    }

    /// <summary>Declares a durable topic exchange and a durable classic queue bound with <paramref name="routingKey"/> (as the transport does).</summary>
    public async Task DeclareAsync(string exchange, string queue, string routingKey)
    {
        if (!_exchanges.Contains(exchange))
        {
            await Channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true);
            lock (_exchanges)
            {
                _exchanges.Add(exchange);
            }
        }

        await Channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "classic" });
        await Channel.QueueBindAsync(queue, exchange, routingKey);
        lock (_queues)
        {
            _queues.Add(queue);
        }
    }

    /// <summary>The queues and exchanges declared so far (read by the Ctrl+C cleanup while a scenario may still declare).</summary>
    public (string[] Queues, string[] Exchanges) Declared()
    {
        lock (_queues)
        {
            lock (_exchanges)
            {
                return ([.. _queues.Distinct()], [.. _exchanges]);
            }
        }
    }

    /// <summary>How often the broker went away (a measurement spanning a restart is void and is repeated).</summary>
    public int Interruptions => Volatile.Read(ref _interruptions);

    /// <summary>Runs <paramref name="measure"/> again (up to 3 times) when the broker restarted meanwhile.</summary>
    public async Task<T> MeasureAsync<T>(string what, Func<Task<T>> measure)
    {
        for (var attempt = 1; ; attempt++)
        {
            var before = Interruptions;
            try
            {
                var result = await measure();
                if (Interruptions == before || attempt == 3)
                {
                    return result;
                }
            }
            catch (Exception ex) when (attempt < 3 && Interruptions != before)
            {
                Progress.Say($"  {what} failed during a broker restart ({ex.GetType().Name}): measuring it again");
                await Task.Delay(2000);
                continue;
            }

            Progress.Say($"  {what} spanned a broker restart: measuring it again");
            await Task.Delay(2000);
        }
    }

    public Task<uint> DepthAsync(string queue) => RetryAsync(async () => (await Channel.QueueDeclarePassiveAsync(queue)).MessageCount);

    public Task PurgeAsync(string queue) => RetryAsync(async () => await Channel.QueuePurgeAsync(queue));

    private async Task<T> RetryAsync<T>(Func<Task<T>> operation)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation();
            }
            catch (Exception ex) when (attempt < 120 && ex is global::RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException)
            {
                if (attempt == 1)
                {
                    Interlocked.Increment(ref _interruptions);
                    Progress.Say($"  !! broker unavailable ({ex.Message}); waiting for it to come back");
                }

                await Task.Delay(500);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            foreach (var q in _queues.Distinct())
            {
                await Channel.QueueDeleteAsync(q);
            }

            foreach (var e in _exchanges)
            {
                await Channel.ExchangeDeleteAsync(e);
            }

            await Channel.CloseAsync();
            await Connection.CloseAsync();
        }
        catch (Exception ex) when (ex is global::RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException or OperationCanceledException)
        {
            Progress.Say($"  !! broker cleanup failed: {ex.Message}");
        }

        Channel.Dispose();
        Connection.Dispose();
    }
}

/// <summary>Nearest-rank percentiles and medians.</summary>
internal static class Stats
{
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>An open-loop load: operation i is due at start + i / rate, however long earlier ones take.</summary>
internal static class OpenLoop
{
    /// <summary>Starts operation i at start + i/rate (open loop: a slow operation does not delay the schedule), on enough workers.</summary>
    public static async Task<double> RunAsync(int rate, int total, Func<int, Task> operation, int? workers = null)
    {
        var count = workers ?? Math.Clamp(rate / 100, 8, 64);
        var next = -1;
        var start = Stopwatch.GetTimestamp();
        var tasks = Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
                var wait = (due - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency;
                if (wait >= 1)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait));
                }

                await operation(i);
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        return total / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
