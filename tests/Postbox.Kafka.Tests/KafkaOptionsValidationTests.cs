using Postbox.Kafka.Consumers;

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
        var result = new KafkaConsumerOptionsValidator().Validate(null, new KafkaConsumerOptions
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
}
