using System.Collections.Concurrent;
using Postbox.Transport;

namespace Postbox.Tests.Relay;

/// <summary>A transport whose answer per message is decided by the test: pure logic tests of the relay's rules.</summary>
internal sealed class ScriptedTransport(Func<OutboxEnvelope, Exception?> answer) : IOutboxTransport
{
    public ConcurrentQueue<Guid> Attempted { get; } = new();

    /// <summary>What <see cref="ProbeAsync"/> throws (null: the transport is available).</summary>
    public Func<Exception?> Probe { get; init; } = () => null;

    /// <summary>What preparing a batch's topics does.</summary>
    public Func<IReadOnlyCollection<string>, CancellationToken, Task> Prepare { get; init; } = (_, _) => Task.CompletedTask;

    public ConcurrentQueue<IReadOnlyCollection<string>> Prepared { get; } = new();

    public async ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
    {
        Attempted.Enqueue(message.Id);
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        if (answer(message) is { } error)
        {
            throw error;
        }
    }

    public async ValueTask PrepareAsync(IReadOnlyCollection<string> topics, CancellationToken cancellationToken)
    {
        Prepared.Enqueue([.. topics]);
        await Prepare(topics, cancellationToken);
    }

    public ValueTask ProbeAsync(CancellationToken cancellationToken) =>
        Probe() is { } error ? ValueTask.FromException(error) : ValueTask.CompletedTask;
}
