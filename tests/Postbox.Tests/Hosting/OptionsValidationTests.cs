using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Postbox.Tests.Hosting;

public sealed class OptionsValidationTests
{
    [Fact]
    public async Task Start_WithInvalidOptions_FailsListingEveryError()
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPostbox(o =>
        {
            o.MaxPayloadBytes = 0;
            o.Relay.BatchSize = 0;
            o.Relay.MaxInFlightBatches = 1000;
            o.Relay.PollInterval = TimeSpan.Zero;
            o.Relay.IdlePollInterval = TimeSpan.FromHours(2);
            o.Relay.LeaseDuration = TimeSpan.FromSeconds(5);
            o.Relay.PublishTimeout = TimeSpan.FromSeconds(10);
            o.Relay.MaxAttempts = 0;
            o.Relay.DeliveredRetention = TimeSpan.FromSeconds(-1);
            o.Relay.OwnerId = " ";
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        var message = error.Message;
        foreach (var expected in new[]
        {
            "Postbox:MaxPayloadBytes", "Postbox:Relay:BatchSize", "Postbox:Relay:MaxInFlightBatches", "Postbox:Relay:PollInterval", "Postbox:Relay:IdlePollInterval",
            "Postbox:Relay:LeaseDuration (00:00:05) must be longer than PublishTimeout", "Postbox:Relay:MaxAttempts",
            "Postbox:Relay:DeliveredRetention", "Postbox:Relay:OwnerId", "No outbox store is configured",
            "The relay is enabled but no transport is configured",
        })
        {
            Assert.Contains(expected, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Start_ProducerOnlyWithoutTransport_NeedsOnlyAStore()
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPostbox(o => o.Relay.Enabled = false);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("No outbox store is configured", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("no transport", error.Message, StringComparison.Ordinal);
    }
}
