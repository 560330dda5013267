using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Kafka.Consumers;
using Postbox.Kafka.Tests.Infrastructure;

namespace Postbox.Kafka.Tests;

public sealed class KafkaOptionsValidationTests
{
    [Fact]
    public void TransportOptions_Defaults_AreValid() =>
        Assert.True(new KafkaTransportOptionsValidator().Validate(null, new KafkaTransportOptions()).Succeeded);

    [Fact]
    public void TransportOptions_EveryProblem_IsListed()
    {
        var result = new KafkaTransportOptionsValidator().Validate(null, new KafkaTransportOptions
        {
            BootstrapServers = "host-without-port,ok:9092",
            ClientId = null!,
            TopicPrefix = "bad prefix/",
            MessageTimeout = TimeSpan.FromMilliseconds(10),
            Linger = TimeSpan.FromSeconds(5),
            MaxMessageBytes = 10,
            UnavailableProbeInterval = TimeSpan.Zero,
        });

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Equal(7, failures.Count);
        Assert.Contains(failures, f => f.Contains("BootstrapServers entry 'host-without-port'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("ClientId", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("TopicPrefix", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MessageTimeout", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Linger", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MaxMessageBytes", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("UnavailableProbeInterval", StringComparison.Ordinal));
    }

    [Fact]
    public void ConsumerOptions_EveryProblem_IsListed()
    {
        var result = new KafkaConsumerOptionsValidator([]).Validate(null, new KafkaConsumerOptions
        {
            BootstrapServers = "",
            TopicPrefix = "ü",
            GroupIdPrefix = null!,
            CommitInterval = TimeSpan.Zero,
            RevokeGracePeriod = TimeSpan.FromHours(1),
        });

        Assert.True(result.Failed);
        Assert.Equal(5, result.Failures!.Count());
    }

    [Theory]
    [InlineData("orders", true)]
    [InlineData("orders.created_v2-eu", true)]
    [InlineData("..", false)]
    [InlineData("", false)]
    [InlineData("orders/created", false)]
    [InlineData("ordérs", false)]
    public void TopicNames_FollowKafkaRules(string topic, bool valid) => Assert.Equal(valid, KafkaNames.IsValidTopic(topic));

    [Theory]
    [InlineData("orders", "g.shared", "orders", "g.shared", true)] // one group on one topic: they would split it
    [InlineData("orders", "g.shared", "invoices", "g.shared", false)] // one group, different topics
    [InlineData("orders", null, "orders", null, false)] // default groups differ by consumer name
    [InlineData("orders", "audit", "orders", null, true)] // an explicit group equal to the other's default
    public void TwoHandlersInOneGroupOnOneTopic_FailAtStartNamingBoth(string topicA, string? groupA, string topicB, string? groupB, bool fails)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPostbox(o => o.Relay.Enabled = false)
            .UseKafkaConsumers(o => o.BootstrapServers = "127.0.0.1:1")
            .AddHandler<WorkItem, EffectHandler>(topicA, o => { o.ConsumerName = "billing"; o.Queue = groupA; })
            .AddHandler<WorkItem, EffectHandler>(topicB, o => { o.ConsumerName = "audit"; o.Queue = groupB; });
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptionsMonitor<KafkaConsumerOptions>>();
        if (!fails)
        {
            _ = options.CurrentValue;
            return;
        }

        var failure = Assert.Single(Assert.Throws<OptionsValidationException>(() => options.CurrentValue).Failures);
        Assert.Contains("'billing' on 'orders'", failure, StringComparison.Ordinal);
        Assert.Contains("'audit' on 'orders'", failure, StringComparison.Ordinal);
        Assert.Contains("consumer group", failure, StringComparison.Ordinal);
    }
}
