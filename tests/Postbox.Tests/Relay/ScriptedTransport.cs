using System.Collections.Concurrent;
using Postbox.Transport;

namespace Postbox.Tests.Relay;

/// <summary>A transport whose answer per message is decided by the test: pure logic tests of the relay's rules.</summary>
internal sealed class ScriptedTransport(Func<OutboxEnvelope, Exception?> answer) : IOutboxTransport
{
    public ConcurrentQueue<Guid> Attempted { get; } = new();

    public async ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
    {
        Attempted.Enqueue(message.Id);
        await Task.Yield();
        if (answer(message) is { } error)
        {
            throw error;
        }
    }
}
