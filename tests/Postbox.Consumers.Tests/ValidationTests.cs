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
        builder.Services.AddPostbox(o => o.Relay.Enabled = false)
            .UsePostgreSql(TestEnvironment.PostgresConnectionString)
            .ConfigureConsumers(o => o.ShutdownTimeout = TimeSpan.FromHours(2))
            .AddHandler<WorkItem, TestHandler>("a", o => { o.Concurrency = 0; o.Timeout = TimeSpan.Zero; o.MaxRetries = -1; o.ConsumerName = "same"; })
            .AddHandler<WorkItem, TestHandler>("b", o => { o.ConsumerName = "same"; o.RetryPolicy = null!; });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        var message = string.Join('\n', error.Failures);
        Assert.Contains("ShutdownTimeout", message, StringComparison.Ordinal);
        Assert.Contains("Concurrency", message, StringComparison.Ordinal);
        Assert.Contains("Timeout", message, StringComparison.Ordinal);
        Assert.Contains("MaxRetries", message, StringComparison.Ordinal);
        Assert.Contains("RetryPolicy", message, StringComparison.Ordinal);
        Assert.Contains("used by another handler", message, StringComparison.Ordinal);
        Assert.Contains("no consumer source", message, StringComparison.Ordinal);
        Assert.Contains("no inbox store", message, StringComparison.Ordinal);
    }
}
