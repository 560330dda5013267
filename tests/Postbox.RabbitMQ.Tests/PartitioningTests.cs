using Postbox.Transport;

namespace Postbox.RabbitMQ.Tests;

/// <summary>Where keyed messages of a partitioned topic go: pure logic, no broker.</summary>
public sealed class PartitioningTests
{
    [Theory]
    [InlineData("order-1", 8, 5)] // FNV-1a-32 729795949
    [InlineData("a", 8, 4)] // 3826002220: above int.MaxValue, so the hash must be reduced unsigned
    [InlineData("k0", 8, 6)]
    [InlineData("é", 8, 1)] // UTF-8 bytes, not UTF-16 chars
    [InlineData("anything", 1, 0)]
    public void KeyPartitioner_KnownKeys_StablePartitions(string key, int partitions, int expected) =>
        Assert.Equal(expected, KeyPartitioner.PartitionOf(key, partitions));

    [Fact]
    public void KeyPartitioner_ManyKeys_SpreadOverEveryPartition()
    {
        var counts = new int[8];
        for (var i = 0; i < 8000; i++)
        {
            counts[KeyPartitioner.PartitionOf($"customer-{i}", 8)]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public void RoutingKey_KeyedMessageOfPartitionedTopic_GoesToItsPartitionOthersKeepTheTopic()
    {
        var options = new RabbitMQTransportOptions { Partitions = 8 };
        options.TopicPartitions["audit"] = 0;
        options.TopicPartitions["big"] = 64;

        Assert.Equal("orders.p5", Partitioning.RoutingKey(options, "orders", "order-1"));
        Assert.Equal("orders", Partitioning.RoutingKey(options, "orders", null)); // keyless: the shared queue
        Assert.Equal("audit", Partitioning.RoutingKey(options, "audit", "order-1")); // turned off for this topic
        Assert.Equal($"big.p{KeyPartitioner.PartitionOf("order-1", 64)}", Partitioning.RoutingKey(options, "big", "order-1"));
        Assert.Equal("orders", Partitioning.RoutingKey(new RabbitMQTransportOptions(), "orders", "order-1")); // default: off
    }

    [Theory]
    [InlineData("orders.p5", true)]
    [InlineData("orders.p7", true)]
    [InlineData("orders.p8", false)] // beyond N
    [InlineData("orders", false)]
    [InlineData("audit.p1", false)] // partitioning off for that topic
    [InlineData("orders.px", false)]
    [InlineData("orders.p-1", false)]
    public void QueueArguments_OnlyPartitionQueuesAreSingleActiveConsumer(string routingKey, bool partition)
    {
        var options = new RabbitMQTransportOptions { Partitions = 8 };
        options.TopicPartitions["audit"] = 0;
        var arguments = Partitioning.QueueArguments(options, routingKey, "classic");
        Assert.Equal("classic", arguments["x-queue-type"]);
        Assert.Equal(partition, arguments.ContainsKey("x-single-active-consumer"));
    }
}
