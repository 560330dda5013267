using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Consumers.Tests.Infrastructure;

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
}
