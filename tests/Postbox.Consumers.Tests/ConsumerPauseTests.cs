using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.Monitoring;
using Postbox.Retry;

namespace Postbox.Consumers.Tests;

/// <summary>
/// Pause of a consumer in the store (IPostboxPauses, as the dashboard and <c>admin pause inbox</c> do), with a real relay,
/// the in-memory transport and two consumers on PostgreSQL: the paused consumer's handler gets nothing new and its
/// retries do not run while the other consumer's flow; resume handles everything once.
/// </summary>
public sealed class ConsumerPauseTests : ServerTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public sealed record Item(string Text);

    /// <summary>Every handled (consumer, text), in order; texts starting with "fail-once" fail their first attempt.</summary>
    public sealed class Calls
    {
        public ConcurrentQueue<(string Consumer, string Text)> All { get; } = new();

        public int Count(string consumer, string text) => All.Count(c => c.Consumer == consumer && c.Text == text);
    }

    public sealed class AlphaHandler(Calls calls) : IMessageHandler<Item>
    {
        public Task HandleAsync(Item message, MessageContext context, CancellationToken cancellationToken) => Record(calls, "alpha", message, context);
    }

    public sealed class BetaHandler(Calls calls) : IMessageHandler<Item>
    {
        public Task HandleAsync(Item message, MessageContext context, CancellationToken cancellationToken) => Record(calls, "beta", message, context);
    }

    private static Task Record(Calls calls, string consumer, Item message, MessageContext context)
    {
        calls.All.Enqueue((consumer, message.Text));
        return message.Text.StartsWith("fail-once", StringComparison.Ordinal) && context.Attempt == 1
            ? throw new InvalidOperationException("first attempt fails")
            : Task.CompletedTask;
    }

    private IHost Build(Calls calls)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(calls);
        builder.Services.AddPostbox(o =>
            {
                o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
                o.Relay.ShutdownTimeout = TimeSpan.FromSeconds(1);
                // The in-memory transport confirms a publish once the consumer settled it: a paused consumer holds its
                // publishes open, so the timeout must outlast the pause.
                o.Relay.PublishTimeout = TimeSpan.FromMinutes(2);
                o.Relay.LeaseDuration = TimeSpan.FromMinutes(3);
            })
            .UsePostgreSql(TestEnvironment.PostgresConnectionString, o => { o.Schema = Db.Schema; o.ListenForNotifications = false; })
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o =>
            {
                o.ShutdownTimeout = TimeSpan.FromSeconds(1);
                o.HandleSignals = false;
                o.RetryPollInterval = TimeSpan.FromMilliseconds(100);
                o.IdleRetryPollInterval = TimeSpan.FromMilliseconds(200);
                o.PausePollInterval = TimeSpan.FromMilliseconds(200);
            })
            .AddHandler<Item, AlphaHandler>("alpha-topic", o => { o.ConsumerName = "alpha"; o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromSeconds(2)); })
            .AddHandler<Item, BetaHandler>("beta-topic", o => { o.ConsumerName = "beta"; o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromSeconds(2)); });
        return builder.Build();
    }

    private async Task EnqueueAsync(IHost host, params (string Topic, string Text)[] messages)
    {
        var outbox = host.Services.GetRequiredService<IOutbox>();
        await using var connection = await Db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await outbox.EnqueueAsync(transaction, [.. messages.Select(m => OutboxMessage.FromJson(m.Topic, new Item(m.Text)))]);
        await transaction.CommitAsync();
    }

    [Fact]
    public async Task PausedConsumer_GetsNothingNew_AndItsRetriesWait_WhileAnotherFlows_ResumeHandlesEachOnce()
    {
        var calls = new Calls();
        using var host = Build(calls);
        await host.StartAsync();
        var pauses = host.Services.GetRequiredService<IPostboxPauses>();

        // A retry of alpha's, due 2 s after its failed first attempt.
        await EnqueueAsync(host, ("alpha-topic", "fail-once retry"));
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(calls.Count("alpha", "fail-once retry") == 1), Wait, "alpha's first attempt");

        Assert.True(await pauses.PauseAsync(MessageSide.Inbox, "alpha", "test", CancellationToken.None));
        // Five poll intervals: every worker of this process has read the pause (no assertion on the time itself).
        await Task.Delay(TimeSpan.FromSeconds(1));

        await EnqueueAsync(host, ("alpha-topic", "alpha 1"), ("beta-topic", "beta 1"), ("alpha-topic", "alpha 2"), ("beta-topic", "fail-once beta"));
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(calls.Count("beta", "beta 1") == 1 && calls.Count("beta", "fail-once beta") == 2), Wait,
            "beta's messages, and beta's own retry, handled while alpha is paused");
        // Past alpha's retry's due time (2 s) by a few scheduler polls.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(1, calls.Count("alpha", "fail-once retry"));
        Assert.Equal(0, calls.Count("alpha", "alpha 1") + calls.Count("alpha", "alpha 2"));
        var retry = await ScalarAsync<int>($"SELECT attempts FROM \"{Db.Schema}\".inbox WHERE consumer = 'alpha' AND state = 2");
        Assert.Equal(1, retry);

        Assert.True(await pauses.ResumeAsync(MessageSide.Inbox, "alpha", CancellationToken.None));
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(calls.Count("alpha", "alpha 1") == 1 && calls.Count("alpha", "alpha 2") == 1
            && calls.Count("alpha", "fail-once retry") == 2), Wait, "alpha's messages and its retry handled after resume");
        await TestEnvironment.WaitUntilAsync(async () => await ScalarAsync<long>($"SELECT count(*) FROM \"{Db.Schema}\".inbox WHERE state <> 1") == 0, Wait,
            "every inbox row processed");
        await host.StopAsync();

        // Each once (the failing ones twice: their first attempt failed).
        Assert.Equal(1, calls.Count("alpha", "alpha 1"));
        Assert.Equal(1, calls.Count("alpha", "alpha 2"));
        Assert.Equal(2, calls.Count("alpha", "fail-once retry"));
        Assert.Equal(1, calls.Count("beta", "beta 1"));
        Assert.Equal(2, calls.Count("beta", "fail-once beta"));
    }

    [Fact]
    public void PausePollInterval_OutOfRange_IsRejected_AndTheDefaultAndBoundsPass()
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var validator = new ConsumerOptionsValidator([], services.GetRequiredService<IServiceProviderIsService>());
        foreach (var wrong in new[] { TimeSpan.Zero, TimeSpan.FromMilliseconds(99), TimeSpan.FromMinutes(1) + TimeSpan.FromTicks(1) })
        {
            var result = validator.Validate(null, new ConsumerOptions { PausePollInterval = wrong });
            Assert.True(result.Failed, wrong.ToString());
            Assert.Contains("PausePollInterval", result.FailureMessage, StringComparison.Ordinal);
        }

        // The default (1 s) and the bounds pass (other options may still report: no handler, no consumer source here).
        foreach (var right in new[] { TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1) })
        {
            Assert.DoesNotContain("PausePollInterval", validator.Validate(null, new ConsumerOptions { PausePollInterval = right }).FailureMessage ?? "", StringComparison.Ordinal);
        }
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = Db.DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
