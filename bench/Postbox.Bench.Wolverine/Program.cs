using System.Diagnostics;
using System.Globalization;
using System.Text;
using JasperFx.CodeGeneration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Postgresql;
using Wolverine.RabbitMQ;
using Wolverine.RDBMS;
using Wolverine.Runtime;

namespace Postbox.Bench.Wolverine;

/// <summary>
/// The peer of the Postbox benchmark: a Wolverine host (durable outbox on PostgreSQL, RabbitMQ with publisher
/// confirms) that the harness starts as a child process, so its CPU and memory can be read from /proc. It talks
/// over stdin/stdout lines like the harness's own <c>relay</c> child: it prints <c>@READY</c> once started, then
/// obeys one command per line (<c>PRODUCE</c>, <c>SEED</c>, <c>LATENCY</c>, <c>ONE</c>, <c>STOP</c>) and answers each
/// with an <c>@</c> line. Every setting it gives Wolverine is listed (with why) in bench/README.md.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var a = new PeerArgs(args);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        // "No handlers found" / "no pre-generated handler registry" are expected here: this node only publishes.
        builder.Logging.AddFilter("Wolverine.Configuration.HandlerDiscovery", LogLevel.Error);
        var queue = a["queue"];
        builder.UseWolverine(opts =>
        {
            opts.ServiceName = "postbox-bench-peer";

            // No handlers here, so nothing to compile at run time (core WolverineFx 6 ships no Roslyn compiler).
            opts.CodeGeneration.TypeLoadMode = TypeLoadMode.Static;

            // One node: "Solo" starts every agent on this node at once and recovers the outbox immediately (docs,
            // durability modes); "Balanced" would first elect a leader.
            opts.Durability.Mode = DurabilityMode.Solo;

            // The durability agent loads at most RecoveryBatchSize unowned outgoing rows per destination per tick
            // and ticks every ScheduledJobPollingTime: 100 per 5 s by default, i.e. 20 msg/s. Raised/lowered so
            // the recovery never limits the drain (the sender does).
            opts.Durability.RecoveryBatchSize = a.Int("recovery-batch");
            opts.Durability.ScheduledJobPollingTime = TimeSpan.FromMilliseconds(a.Int("poll-ms"));
            // The first tick at once instead of after a random 0.5-6 s (spreads nodes' start-up load; one node here).
            opts.Durability.ScheduledJobFirstExecution = TimeSpan.Zero;
            opts.Durability.DurabilityAgentEnabled = a.Bool("agent");

            // The durable outbox in PostgreSQL, in a private schema (all its tables are dropped with it).
            opts.PersistMessagesWithPostgresql(a["pg"], a["schema"]);

            opts.UseRabbitMq(new Uri(a["rabbitmq"]))
                // The harness declares the queue (durable, classic); Wolverine only publishes to it.
                .DisableSystemRequestReplyQueueDeclaration()
                .ConfigureChannelCreation(o =>
                {
                    o.PublisherConfirmationsEnabled = a.Bool("confirms");
                    o.PublisherConfirmationTrackingEnabled = a.Bool("confirms");
                });

            // Every message through the durable outbox to the queue (default exchange, routing key = queue name),
            // persistent because the endpoint is durable.
            opts.PublishAllMessages().ToRabbitQueue(queue).UseDurableOutbox();
        });

        using var host = builder.Build();
        await host.StartAsync();
        var runtime = host.Services.GetRequiredService<IWolverineRuntime>();
        var database = (IMessageDatabase)runtime.Storage;
        var connection = new NpgsqlConnectionStringBuilder(a["pg"]) { MaxPoolSize = 100 };
        await using var dataSource = NpgsqlDataSource.Create(connection.ConnectionString);
        var producer = new Producer(runtime, database, dataSource, $"\"{a["schema"]}\".orders", a.Int("payload-bytes"));
        Console.WriteLine("@READY");

        while (await Console.In.ReadLineAsync() is { } line && line != "STOP")
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
            {
                continue;
            }

            switch (words[0])
            {
                case "PRODUCE":
                {
                    var (count, seconds) = await producer.ClosedLoopAsync(TimeSpan.FromSeconds(D(words[1])), I(words[2]));
                    Console.WriteLine(Invariant($"@PRODUCED {count} {seconds:0.000}"));
                    break;
                }

                case "SEED":
                {
                    await producer.SeedAsync(I(words[1]));
                    Console.WriteLine($"@SEEDED {words[1]}");
                    break;
                }

                case "LATENCY":
                {
                    var achieved = await producer.OpenLoopAsync(I(words[1]), I(words[2]), TimeSpan.FromSeconds(D(words[3])), words[4]);
                    Console.WriteLine(Invariant($"@LATENCY {achieved:0.0}"));
                    break;
                }

                case "ONE":
                {
                    var (id, ticks) = await producer.OneAsync();
                    Console.WriteLine(Invariant($"@ONE {id:D} {ticks}"));
                    break;
                }

                default:
                    Console.WriteLine($"@ERROR unknown command {words[0]}");
                    break;
            }
        }

        await host.StopAsync();
        Console.WriteLine("@STOPPED");
        return 0;
    }

    private static int I(string s) => int.Parse(s, CultureInfo.InvariantCulture);

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The message the peer publishes: the same JSON-like shape and size as the harness's payload.</summary>
/// <param name="OrderId">A fixed order number.</param>
/// <param name="Customer">A fixed customer.</param>
/// <param name="Note">Padding that brings the serialized message to the payload size.</param>
public sealed record BenchEvent(int OrderId, string Customer, string Note);

/// <summary>
/// Business transactions through Wolverine's outbox on raw Npgsql: insert an order row, enlist the Wolverine message
/// context in the same <see cref="NpgsqlTransaction"/> (<c>EnlistInOutboxAsync</c> with a
/// <c>DatabaseEnvelopeTransaction</c>, the API Wolverine's own ADO.NET saga storage uses), publish one message
/// (persisted in <c>wolverine_outgoing_envelopes</c> by the same transaction), commit, then
/// <c>FlushOutgoingMessagesAsync</c> hands it to the durable sending agent, which publishes it from this process and
/// deletes the row once sent.
/// </summary>
internal sealed class Producer(IWolverineRuntime runtime, IMessageDatabase database, NpgsqlDataSource dataSource, string orders, int payloadBytes)
{
    private readonly BenchEvent _message = new(12345, "c-42", new string('x', Math.Max(1, payloadBytes - 50)));
    private readonly string _insertOrder = $"INSERT INTO {orders} (customer, amount) VALUES ($1, $2)";

    /// <summary>One business transaction; returns the message id and the moment the commit returned.</summary>
    public async Task<(Guid Id, long CommittedAt)> TransactionAsync(bool flush = true)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand(_insertOrder, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "customer-42" });
            command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = 99.95m });
            await command.ExecuteNonQueryAsync();
        }

        var context = new MessageContext(runtime);
        await context.EnlistInOutboxAsync(new DatabaseEnvelopeTransaction(database, transaction));
        await context.PublishAsync(_message);
        var id = context.Outstanding.First().Id;
        await transaction.CommitAsync();
        var committedAt = Stopwatch.GetTimestamp();
        if (flush)
        {
            await context.FlushOutgoingMessagesAsync();
        }

        return (id, committedAt);
    }

    /// <summary>Back-to-back transactions on <paramref name="clients"/> connections (the harness's closed loop).</summary>
    public async Task<(long Count, double Seconds)> ClosedLoopAsync(TimeSpan duration, int clients)
    {
        long count = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (watch.Elapsed < duration)
            {
                await TransactionAsync();
                Interlocked.Increment(ref count);
            }
        })));
        return (count, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Pre-enqueues <paramref name="count"/> outgoing messages through the outbox (1,000 per transaction) without
    /// flushing them: they stay in <c>wolverine_outgoing_envelopes</c> for a relay node to recover.
    /// </summary>
    public async Task SeedAsync(int count)
    {
        for (var done = 0; done < count;)
        {
            var n = Math.Min(1000, count - done);
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            var context = new MessageContext(runtime);
            await context.EnlistInOutboxAsync(new DatabaseEnvelopeTransaction(database, transaction));
            for (var i = 0; i < n; i++)
            {
                await context.PublishAsync(_message);
            }

            await transaction.CommitAsync();
            done += n;
        }
    }

    /// <summary>
    /// Transaction i starts at start + i/rate (open loop, as the harness's latency scenario) unless the
    /// <paramref name="deadline"/> has passed (a producer that cannot keep up stops there); writes one line
    /// "id committedAtTicks" per message to <paramref name="path"/>. Stopwatch ticks are CLOCK_MONOTONIC on Linux,
    /// the same clock in every process, so the harness compares them with its consumer's receipt times.
    /// </summary>
    public async Task<double> OpenLoopAsync(int rate, int total, TimeSpan deadline, string path)
    {
        var started = 0;
        var ids = new Guid[total];
        var stamps = new long[total];
        // More callers than the harness's Postbox producer (rate / 100, 8..64): a transaction here lasts until
        // FlushOutgoingMessagesAsync returns, which waits on the sending agent, and an open loop must not be limited
        // by its own worker count. 64 at most, so the shared server keeps connections for others.
        var workers = Math.Clamp(rate / 20, 16, 64);
        var next = -1;
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total && Stopwatch.GetElapsedTime(start) < deadline)
            {
                Interlocked.Increment(ref started);
                var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
                var wait = (due - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency;
                if (wait >= 1)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait));
                }

                (ids[i], stamps[i]) = await TransactionAsync();
            }
        })));
        var achieved = started / Stopwatch.GetElapsedTime(start).TotalSeconds;
        var text = new StringBuilder(total * 50);
        for (var i = 0; i < total; i++)
        {
            if (stamps[i] == 0)
            {
                continue; // Not started before the deadline: the producer could not keep up with the rate.
            }

            text.Append(CultureInfo.InvariantCulture, $"{ids[i]:D} {stamps[i]}\n");
        }

        await File.WriteAllTextAsync(path, text.ToString());
        return achieved;
    }

    public Task<(Guid Id, long CommittedAt)> OneAsync() => TransactionAsync();
}

/// <summary><c>--name value</c> pairs.</summary>
internal sealed class PeerArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public PeerArgs(IReadOnlyList<string> args)
    {
        for (var i = 0; i + 1 < args.Count; i += 2)
        {
            _values[args[i].TrimStart('-')] = args[i + 1];
        }
    }

    public string this[string name] => _values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"Missing --{name}.");

    public int Int(string name) => int.Parse(this[name], CultureInfo.InvariantCulture);

    public bool Bool(string name) => bool.Parse(this[name]);
}
