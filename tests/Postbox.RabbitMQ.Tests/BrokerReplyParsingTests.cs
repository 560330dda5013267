namespace Postbox.RabbitMQ.Tests;

/// <summary>
/// The oversized-message path, without sending 128 MiB to a broker other tests share (it could raise a memory alarm
/// that blocks every publisher on it).
/// </summary>
public sealed class BrokerReplyParsingTests
{
    [Theory]
    [InlineData("PRECONDITION_FAILED - message size 134217729 is larger than configured max size 134217728", 134217728L)]
    [InlineData("PRECONDITION_FAILED - message size 20 is larger than max size 10", 10L)]
    public void TryParseMaxMessageSize_WithBrokerSizeReply_ReturnsTheLimit(string reply, long expected)
    {
        Assert.True(RabbitMQTransport.TryParseMaxMessageSize(reply, out var max));
        Assert.Equal(expected, max);
    }

    [Theory]
    [InlineData("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q'")]
    [InlineData("CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")]
    public void TryParseMaxMessageSize_WithOtherReply_ReturnsFalse(string reply) =>
        Assert.False(RabbitMQTransport.TryParseMaxMessageSize(reply, out _));
}
