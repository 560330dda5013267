using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.PostgreSql.Consumers;
using Postbox.Retry;

namespace Postbox.Consumers.Tests;

/// <summary>
/// A hot key's backlog is parked in the inbox so other keys get the prefetch, and a hand-back (inbox unreachable) holds
/// its key until the handed-back messages come back — without giving up per-key order or exactly-once effects.
/// </summary>
public sealed class HotKeyAndHandBackTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);

    // Seeded model check: one hot key (half the messages) and nine others, random handler durations, random failures
    // (0-2 per message, retried); the committed effects must be, per key, exactly the enqueue order, each message once.
    [Theory]
    [InlineData(1401)]
    [InlineData(1402)]
    [InlineData(1403)]
    public async Task KeyOrder_SeededRandomHotKeyDelaysAndFailures_EveryKeyInEnqueueOrderEachOnce(int seed)
    {
        var random = new Random(seed);
        var topic = "hotmodel-" + Guid.NewGuid().ToString("N");
        var others = Enumerable.Range(0, 9).Select(i => $"k{i}").ToList();
        var next = others.Concat(["hot"]).ToDictionary(k => k, _ => 0);
        var messages = new List<(string Key, string Body, OutboxMessage Message)>();
        for (var i = 0; i < 300; i++)
        {
            var key = random.NextDouble() < 0.5 ? "hot" : others[random.Next(others.Count)];
            var body = $"{key}:{next[key]++}";
            messages.Add((key, body, OutboxMessage.FromJson(topic, new WorkItem(body), key: key)));
        }

        var failures = messages.ToDictionary(m => m.Message.Id, _ => random.NextDouble() switch { < 0.85 => 0, < 0.95 => 1, _ => 2 });
        var delays = messages.ToDictionary(m => m.Message.Id, _ => TimeSpan.FromMilliseconds(random.Next(0, 15)));
        var script = new HandlerScript
        {
            Schema = Db.Schema,
            ShouldFail = c => c.Attempt <= failures[c.MessageId],
            DelayFor = c => delays[c.MessageId],
        };
        using var host = BuildInMemoryHost(script, topic, concurrency: 4, configureServices: null);
        await host.StartAsync();
        await EnqueueAsync(host, [.. messages.Select(m => m.Message)]);

        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= messages.Count, Wait, $"{messages.Count} effects");
        await Task.Delay(500); // a duplicate would show now
        KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), next.Where(p => p.Value > 0).ToDictionary(p => p.Key, p => Enumerable.Range(0, p.Value).ToArray()));
        Assert.Equal(messages.Count, await Db.EffectsAsync());
        Assert.Equal(messages.Count, await Db.DistinctEffectsAsync());
        foreach (var m in messages)
        {
            Assert.Equal(failures[m.Message.Id] + 1, script.Attempts[m.Message.Id]);
        }

        Assert.True(await ParkedAsync("hot") > 0, "the hot key's backlog was parked in the inbox");
        await host.StopAsync();
    }

    // Concurrency 2 (prefetch 4): one slot held by a slow message, so the key's later messages wait unread in the
    // subscription's buffer while its head is handed back; RabbitMQ redelivers the head after them.
    [Fact]
    public async Task HandBack_InboxUnreachableForKeyHead_LaterMessagesOfTheKeyDoNotOvertakeIt()
    {
        var topic = TestBroker.NewTopic("handback");
        await Broker.DeclareAsync(topic);
        var slow = Guid.CreateVersion7();
        var keyed = Enumerable.Range(0, 10).Select(_ => Guid.CreateVersion7()).ToList();
        var script = new HandlerScript { DelayFor = c => c.MessageId == slow ? TimeSpan.FromSeconds(3) : TimeSpan.Zero };
        var flaky = new FlakyInbox(keyed[0]);
        using var host = await ConsumerHost.StartAsync(Db, topic, script, o => o.Concurrency = 2, services: services =>
            services.Replace(ServiceDescriptor.Singleton<IInboxStore>(sp => flaky.Wrap(sp.GetRequiredService<PostgreSqlInboxStore>()))));
        await Broker.PublishAsync(topic, slow, new WorkItem("slow:0"), key: "slow");
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(script.Attempts.ContainsKey(slow)), Wait, "the slow message started");
        for (var i = 0; i < keyed.Count; i++)
        {
            await Broker.PublishAsync(topic, keyed[i], new WorkItem($"a:{i}"), key: "a");
        }

        await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 11, Wait, "11 effects");
        await Task.Delay(300);
        Assert.Equal(1, flaky.Failures);
        KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(["a"], 10).Append(new("slow", [0])).ToDictionary());
        Assert.Equal(11, await Db.DistinctEffectsAsync());
        await host.StopAsync();
    }

    // Parked backlog and a kill -9: the hot key's parked messages are in the inbox, not in the dead process; the other
    // worker takes the partitions over and runs them in order, each once.
    [Fact]
    public async Task HotKey_WorkerKilledWithBacklogParked_OrderHoldsNothingLostOrTwice()
    {
        const int partitions = 2;
        var topic = TestBroker.NewTopic("hotkill");
        KeyedMessages.TrackPartitions(Broker, topic, partitions);
        var others = Enumerable.Range(0, 8).Select(i => $"k{i}").ToList();
        // Handler timeout 5 s: a retry lease is then 2 x 5 s + 1 s + 1 min.
        var first = await WorkerProcess.StartAsync(Db, topic, "2-6", shutdownMs: 1000, partitions: partitions, concurrency: "default", timeoutMs: 5000);
        await using var second = await WorkerProcess.StartAsync(Db, topic, "2-6", shutdownMs: 1000, partitions: partitions, concurrency: "default", timeoutMs: 5000);
        await using var transport = KeyedMessages.Transport(partitions);

        // The hot key first, quicker than it is handled, so its backlog fills the prefetch and gets parked.
        await KeyedMessages.PublishAsync(transport, topic, ["hot"], 300);
        var publish = KeyedMessages.PublishAsync(transport, topic, others, 50);
        await TestEnvironment.WaitUntilAsync(async () => await ParkedAsync("hot") > 20 && await KeyedMessages.CountAsync(Db) >= 30, Wait, "hot backlog parked");
        await first.SignalAsync("KILL");
        Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await first.DisposeAsync();
        await publish;

        // A parked message the killed worker had claimed waits for its retry lease to expire (71 s here), as any claimed
        // retry does.
        try
        {
            await TestEnvironment.WaitUntilAsync(async () => await KeyedMessages.CountAsync(Db) >= 700, TimeSpan.FromMinutes(3), "700 effects");
        }
        catch (TimeoutException)
        {
            await using var command = Db.DataSource.CreateCommand(
                $"SELECT state, coalesce(key, '-'), count(*), min(next_attempt_at)::text, count(lease_owner) FROM \"{Db.Schema}\".inbox GROUP BY 1, 2 ORDER BY 1, 2");
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                Console.WriteLine($"INBOX state {reader.GetInt16(0)} key {reader.GetString(1)}: {reader.GetInt64(2)} rows, first due {(reader.IsDBNull(3) ? "-" : reader.GetString(3))}, leased {reader.GetInt64(4)}");
            }

            Console.WriteLine($"EFFECTS {await KeyedMessages.CountAsync(Db)}; now {DateTime.UtcNow:O}; second worker:\n{second.Output[^Math.Min(second.Output.Length, 3000)..]}");
            throw;
        }
        await Task.Delay(500);
        KeyedMessages.AssertInOrder(await KeyedMessages.EffectsAsync(Db), KeyedMessages.All(others, 50).Append(new("hot", [.. Enumerable.Range(0, 300)])).ToDictionary());
        Assert.Equal(700, await Db.EffectsAsync());
        Assert.Equal(700, await Db.DistinctEffectsAsync());
    }

    // Parked rows keep their key (rows handled straight from the broker do not).
    private async Task<long> ParkedAsync(string key)
    {
        await using var command = Db.DataSource.CreateCommand($"SELECT count(*) FROM \"{Db.Schema}\".inbox WHERE key = $1");
        command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = key });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private IHost BuildInMemoryHost(HandlerScript script, string topic, int concurrency, Action<IServiceCollection>? configureServices)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(script);
        builder.Services.AddPostbox(o => o.Relay.PollInterval = TimeSpan.FromMilliseconds(50))
            .UsePostgreSql(TestEnvironment.PostgresConnectionString, o => { o.Schema = Db.Schema; o.ListenForNotifications = false; })
            .UsePostgreSqlInbox()
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o => { o.HandleSignals = false; o.RetryPollInterval = TimeSpan.FromMilliseconds(50); })
            .AddHandler<WorkItem, TestHandler>(topic, o =>
            {
                o.ConsumerName = "hot";
                o.Concurrency = concurrency;
                o.MaxAttempts = 6;
                o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(50));
            });
        configureServices?.Invoke(builder.Services);
        return builder.Build();
    }

    private async Task EnqueueAsync(IHost host, OutboxMessage[] messages)
    {
        await using var connection = await Db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await host.Services.GetRequiredService<IOutbox>().EnqueueAsync(transaction, messages);
        await transaction.CommitAsync();
    }

    /// <summary>The real inbox, unreachable once for one message's first keyed begin (a fault injected on the real store).</summary>
    private sealed class FlakyInbox(Guid failOnce)
    {
        private readonly Guid _failOnce = failOnce;
        private int _failures;

        public int Failures => Volatile.Read(ref _failures);

        public IInboxStore Wrap(IInboxStore inner) => new Store(this, inner);

        private sealed class Store(FlakyInbox owner, IInboxStore inner) : IInboxStore
        {
            public Task<KeyedInboxBegin> BeginInKeyOrderAsync(Guid messageId, string consumer, string topic, string key, bool deadBlocksKey, DateTimeOffset now,
                CancellationToken cancellationToken) =>
                messageId == owner._failOnce && Interlocked.CompareExchange(ref owner._failures, 1, 0) == 0
                    ? throw new TimeoutException("Injected: the inbox is unreachable.")
                    : inner.BeginInKeyOrderAsync(messageId, consumer, topic, key, deadBlocksKey, now, cancellationToken);

            public Task<InboxTransaction?> BeginAsync(Guid messageId, string consumer, string topic, DateTimeOffset now, CancellationToken cancellationToken) =>
                inner.BeginAsync(messageId, consumer, topic, now, cancellationToken);

            public Task<bool> ParkAsync(InboxParking parking, CancellationToken cancellationToken) => inner.ParkAsync(parking, cancellationToken);

            public Task<InboxTransaction?> BeginRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken) =>
                inner.BeginRetryAsync(messageId, consumer, owner, now, cancellationToken);

            public Task<bool> RecordFailureAsync(InboxFailure failure, CancellationToken cancellationToken) => inner.RecordFailureAsync(failure, cancellationToken);

            public Task<IReadOnlyList<InboxRetry>> ClaimRetriesAsync(RetryClaimRequest request, CancellationToken cancellationToken) =>
                inner.ClaimRetriesAsync(request, cancellationToken);

            public Task ReleaseRetryAsync(Guid messageId, string consumer, string owner, DateTimeOffset now, CancellationToken cancellationToken) =>
                inner.ReleaseRetryAsync(messageId, consumer, owner, now, cancellationToken);

            public Task<int> PurgeProcessedAsync(DateTimeOffset processedBefore, int batchSize, CancellationToken cancellationToken) =>
                inner.PurgeProcessedAsync(processedBefore, batchSize, cancellationToken);
        }
    }
}
