using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.RabbitMQ;
using Postbox.Retry;
using Xunit.Abstractions;

namespace Postbox.IntegrationTests.Relay;

/// <summary>
/// What one message carries can only ever fail that message: limits the broker enforces on the envelope (frame size
/// for properties and headers, short strings) are refused at enqueue, again by the transport before it publishes, and
/// a message that breaks the connection anyway is found and charged alone. Topology for new topics never counts
/// against a message's publish timeout.
/// </summary>
public sealed class RelayMessageLimitsTests(ITestOutputHelper output) : ServerTest
{
    private const int TransportDownEvent = 1140;

    [Fact]
    public async Task Enqueue_HeaderOf200000Characters_IsRefusedWithArgumentException_AndItsNeighboursAreJudgedByTheSameRule()
    {
        await Broker.ConsumeAsync("orders");
        using var host = PostboxHost.Build(Schema, b => Broker.UseIn(b));
        await host.StartAsync();
        var outbox = host.Services.GetRequiredService<IOutbox>();

        OutboxMessage With(Action<OutboxMessage> change)
        {
            var message = PostgresSchema.Message("orders");
            change(message);
            return message;
        }

        var refused = new[]
        {
            ("a 200,000-character header", With(m => m.Headers["big"] = new string('h', 200_000))),
            ("many small headers summing past the frame", With(m =>
            {
                for (var i = 0; i < 2_000; i++)
                {
                    m.Headers[$"h{i:D4}"] = new string('v', 60);
                }
            })),
            ("a header one byte over the limit", With(m => m.Headers["big"] = new string('h', 124 * 1024 - 6 - 3 + 1))),
            ("a Type of 100 three-byte characters (300 bytes)", new OutboxMessage("orders", "x"u8.ToArray()) { Type = new string('€', 100) }),
            ("a 300-character Type", new OutboxMessage("orders", "x"u8.ToArray()) { Type = new string('t', 300) }),
            ("a 300-character Topic", new OutboxMessage(new string('t', 300), "x"u8.ToArray())),
            ("a 300-character Key", new OutboxMessage("orders", "x"u8.ToArray()) { Key = new string('k', 300) }),
            ("a 300-byte content-type", With(m => m.Headers["content-type"] = new string('c', 300))),
        };

        await using var connection = await Schema.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        foreach (var (what, message) in refused)
        {
            var error = await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, message));
            output.WriteLine($"{what}: {error.Message}");
            Assert.Contains(message.Id.ToString(), error.Message, StringComparison.Ordinal);
        }

        // The caller's transaction is intact, and the neighbours inside the limits pass and are delivered.
        var atLimit = With(m => m.Headers["big"] = new string('h', 124 * 1024 - 6 - 3));
        var normal = Enumerable.Range(0, 50).Select(_ => PostgresSchema.Message("orders")).ToList();
        await outbox.EnqueueAsync(transaction, [atLimit, .. normal]);
        await transaction.CommitAsync();

        await Broker.WaitForAsync(51, TimeSpan.FromSeconds(30));
        await host.StopAsync();
        Assert.Equal(51L, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1 AND attempts = 1"));
    }

    [Fact]
    public async Task Relay_HeaderLargerThanTheFrame_PastTheEnqueueCheck_GoesDeadAtOnceAlone_AndTheFiftyAreDelivered()
    {
        await Broker.ConsumeAsync("orders");
        var big = PostgresSchema.Message("orders");
        big.Headers["big"] = new string('h', 200_000);
        var normal = Enumerable.Range(0, 50).Select(_ => PostgresSchema.Message("orders")).ToList();
        // Written by the store's writer directly: the enqueue check is bypassed (as if written before it existed).
        await Schema.EnqueueAsync([.. normal.Take(25), big, .. normal.Skip(25)]);
        var logs = new LogCollector();
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b), services: s => s.AddLogging(l => l.AddProvider(logs)));
        await relay.StartAsync();

        await Broker.WaitForAsync(50, TimeSpan.FromSeconds(30));
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>($"SELECT count(*) FROM {{schema}}.outbox WHERE id = '{big.Id}' AND state = 2") == 1,
            TimeSpan.FromSeconds(30), "the big message is dead");
        await relay.StopAsync();

        var error = await Schema.ScalarAsync<string>($"SELECT last_error FROM {{schema}}.outbox WHERE id = '{big.Id}'");
        output.WriteLine(error);
        Assert.Contains("frame_max", error, StringComparison.Ordinal);
        Assert.Equal(1, await Schema.ScalarAsync<int>($"SELECT attempts FROM {{schema}}.outbox WHERE id = '{big.Id}'"));
        Assert.Equal(50L, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1 AND attempts = 1 AND last_error IS NULL"));
        Assert.Equal(0, logs.Count(TransportDownEvent)); // the connection was never touched
    }

    [Fact]
    public async Task Relay_MessageThatBreaksTheConnection_WithTheTransportCheckOff_IsIsolatedAndChargedAlone_AndTheFiftyAreDelivered()
    {
        await Broker.ConsumeAsync("orders");
        var big = PostgresSchema.Message("orders", maxAttempts: 2);
        big.Headers["big"] = new string('h', 200_000);
        var normal = Enumerable.Range(0, 50).Select(_ => PostgresSchema.Message("orders")).ToList();
        await Schema.EnqueueAsync([.. normal.Take(25), big, .. normal.Skip(25)]);
        var logs = new LogCollector();
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b), o => o.Relay.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(300)),
            services: s => s.AddLogging(l => l.AddProvider(logs).AddFilter<LogCollector>(null, LogLevel.Information)));
        // As if the broker had a limit the transport does not know: the message reaches the broker, which closes the
        // connection (501 FRAME_ERROR) under every publish in flight.
        relay.Services.GetRequiredService<RabbitMQTransport>().SkipEnvelopeChecks = true;
        var clock = Stopwatch.StartNew();
        await relay.StartAsync();

        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == 50,
            TimeSpan.FromSeconds(60), "the fifty are delivered");
        var fiftyAt = clock.Elapsed;
        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>($"SELECT count(*) FROM {{schema}}.outbox WHERE id = '{big.Id}' AND state = 2") == 1,
            TimeSpan.FromSeconds(60), "the connection breaker is dead");
        await relay.StopAsync();

        output.WriteLine($"The fifty delivered after {fiftyAt.TotalSeconds:0.00} s; outages logged: {logs.Count(TransportDownEvent)}.");
        foreach (var line in logs.Lines())
        {
            output.WriteLine(line);
        }

        Assert.Equal(2, await Schema.ScalarAsync<int>($"SELECT attempts FROM {{schema}}.outbox WHERE id = '{big.Id}'"));
        Assert.Contains("breaks the connection", await Schema.ScalarAsync<string>($"SELECT last_error FROM {{schema}}.outbox WHERE id = '{big.Id}'"),
            StringComparison.Ordinal);
        // The innocent messages in flight with it were charged nothing.
        Assert.Equal(50L, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1 AND attempts = 1 AND last_error IS NULL"));
        // Bounded: two flaps to isolate it, then one per charged attempt at most.
        Assert.True(logs.Count(TransportDownEvent) <= 4, $"{logs.Count(TransportDownEvent)} outages for one message.");
    }

    [Fact]
    public async Task Relay_TwoThousandDistinctTopics_WithAFiveSecondPublishTimeout_ChargesNoAttemptForQueueDeclarations()
    {
        const int topics = 2000;
        var messages = Enumerable.Range(0, topics).Select(i => PostgresSchema.Message($"topic{i:D4}")).ToList();
        foreach (var message in messages)
        {
            Broker.DeleteQueueAtEnd(message.Topic);
        }

        await Schema.EnqueueAsync(messages);
        using var relay = PostboxHost.Build(Schema, b => Broker.UseIn(b), o => o.Relay.PublishTimeout = TimeSpan.FromSeconds(5));
        var clock = Stopwatch.StartNew();
        await relay.StartAsync();

        await Eventually.HoldsAsync(async () => await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE state = 1") == topics,
            TimeSpan.FromSeconds(120), "every message is delivered");
        var elapsed = clock.Elapsed;
        await relay.StopAsync();

        var charged = await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE attempts <> 1 OR last_error IS NOT NULL");
        output.WriteLine($"{topics} messages to {topics} new topics delivered in {elapsed.TotalSeconds:0.00} s; {charged} charged an attempt.");
        // Declarations counted against the publish timeout charged 1,426 of 2,000 here. Declaring is not publishing:
        // a declaration that does not answer in time releases the message without an attempt, so none is charged.
        var errors = await Schema.ScalarAsync<string>("SELECT coalesce(string_agg(DISTINCT last_error, ' | '), '') FROM {schema}.outbox WHERE last_error IS NOT NULL");
        Assert.True(charged == 0, $"{charged} of {topics} messages were charged an attempt: {errors}");
    }
}
