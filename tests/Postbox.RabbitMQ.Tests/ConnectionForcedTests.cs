using Postbox.Consumers;
using Postbox.RabbitMQ.Consumers;
using Postbox.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Postbox.RabbitMQ.Tests;

/// <summary>
/// A subscribe that meets a broker shutting down (CONNECTION_FORCED) is an outage, logged as one line and retried; a
/// channel error (a queue declared with other arguments, access refused) stays a fault with its stack trace. Found by the
/// fault run: a worker restarted just as RabbitMQ stopped logged 102 stack-trace lines.
/// </summary>
public sealed class ConnectionForcedTests
{
    [Fact]
    public void ConnectionForced_IsAnOutage_WrappedAsAnExpectedTransportFailure()
    {
        var forced = new OperationInterruptedException(
            new ShutdownEventArgs(ShutdownInitiator.Peer, Constants.ConnectionForced, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"));
        Assert.True(RabbitMQConsumerSource.IsConnectionForced(forced));
        Assert.False(FailureReason.IsExpected(forced)); // why the source wraps it
        Assert.True(FailureReason.IsExpected(new TransportException("RabbitMQ closed the connection while subscribing", forced)));
    }

    [Theory]
    [InlineData(406, "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'")]
    [InlineData(403, "ACCESS_REFUSED - access to queue refused")]
    [InlineData(404, "NOT_FOUND - no exchange")]
    public void ChannelErrors_AreNotAnOutage(int code, string text) =>
        Assert.False(RabbitMQConsumerSource.IsConnectionForced(
            new OperationInterruptedException(new ShutdownEventArgs(ShutdownInitiator.Peer, (ushort)code, text))));
}
