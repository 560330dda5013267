using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.RabbitMQ.Consumers;

namespace Postbox.Consumers.Tests;

public sealed class ValidationTests
{
    [Fact]
    public async Task Options_Invalid_StartupListsEveryError()
    {
        var builder = Host.CreateApplicationBuilder();
        // No store at all: UsePostgreSql would also provide the inbox.
        builder.Services.AddPostbox(o => o.Relay.Enabled = false)
            .ConfigureConsumers(o => o.ShutdownTimeout = TimeSpan.FromHours(2))
            .AddHandler<WorkItem, TestHandler>("a", o => { o.Concurrency = 0; o.Timeout = TimeSpan.Zero; o.MaxAttempts = 0; o.ConsumerName = "same"; })
            .AddHandler<WorkItem, TestHandler>("b", o => { o.ConsumerName = "same"; o.RetryPolicy = null!; });
        using var host = builder.Build();

        // One failing options type throws OptionsValidationException; several throw them together in an AggregateException.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        var failures = error is AggregateException all ? all.InnerExceptions : [error];
        var message = string.Join('\n', failures.Cast<OptionsValidationException>().SelectMany(e => e.Failures));
        Assert.Contains("ShutdownTimeout", message, StringComparison.Ordinal);
        Assert.Contains("Concurrency", message, StringComparison.Ordinal);
        Assert.Contains("Timeout", message, StringComparison.Ordinal);
        Assert.Contains("MaxAttempts", message, StringComparison.Ordinal);
        Assert.Contains("RetryPolicy", message, StringComparison.Ordinal);
        Assert.Contains("used by another handler", message, StringComparison.Ordinal);
        Assert.Contains("no consumer source", message, StringComparison.Ordinal);
        Assert.Contains("no inbox store", message, StringComparison.Ordinal);
        Assert.Contains("No outbox store is configured", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, true)] // both on the topic's queue
    [InlineData("q.shared", "q.shared", true)] // both given the same queue
    [InlineData("app.orders", null, true)] // one names the topic's own queue
    [InlineData("q.audit", null, false)] // each its own
    [InlineData("q.audit", "q.billing", false)]
    public async Task RabbitMQ_TwoHandlersOnOneQueue_FailAtStartNamingBoth(string? queueA, string? queueB, bool fails)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPostbox(o => o.Relay.Enabled = false)
            .UseRabbitMQConsumers(o => { o.ConnectionString = "amqp://guest:guest@127.0.0.1:1/"; o.QueuePrefix = "app."; })
            .AddHandler<WorkItem, TestHandler>("orders", o => { o.ConsumerName = "audit"; o.Queue = queueA; })
            .AddHandler<WorkItem, TestHandler>("orders", o => { o.ConsumerName = "billing"; o.Queue = queueB; });
        using var host = builder.Build();

        var validator = host.Services.GetRequiredService<IOptionsMonitor<RabbitMQConsumerOptions>>();
        if (!fails)
        {
            _ = validator.CurrentValue;
            return;
        }

        var error = Assert.Throws<OptionsValidationException>(() => validator.CurrentValue);
        var failure = Assert.Single(error.Failures);
        Assert.Contains("'audit' on 'orders'", failure, StringComparison.Ordinal);
        Assert.Contains("'billing' on 'orders'", failure, StringComparison.Ordinal);
        Assert.Contains("compete", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void InMemory_TwoHandlersOnOneTopic_FailAtStart_EvenWithTheirOwnQueues()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPostbox(o => o.Relay.Enabled = false)
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .AddHandler<WorkItem, TestHandler>("orders", o => { o.ConsumerName = "audit"; o.Queue = "q.audit"; })
            .AddHandler<WorkItem, TestHandler>("orders", o => { o.ConsumerName = "billing"; o.Queue = "q.billing"; })
            .AddHandler<WorkItem, TestHandler>("invoices", o => o.ConsumerName = "invoicing");
        using var host = builder.Build();

        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptionsMonitor<ConsumerOptions>>().CurrentValue);
        var failure = Assert.Single(error.Failures, f => f.Contains("compete", StringComparison.Ordinal));
        Assert.Contains("'audit' on 'orders'", failure, StringComparison.Ordinal);
        Assert.Contains("'billing' on 'orders'", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("invoicing", failure, StringComparison.Ordinal);
        Assert.Contains("one handler per topic", failure, StringComparison.Ordinal);
    }
}
