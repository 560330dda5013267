namespace Postbox.Transport.InMemory;

/// <summary>
/// One message travelling through the <see cref="InMemoryTransport"/>. The publish that sent it completes only when
/// a consumer calls <see cref="Complete"/> (its outcome is committed), so the outbox row stays leased until then.
/// </summary>
public sealed class InMemoryDelivery
{
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal InMemoryDelivery(OutboxEnvelope message) => Message = message;

    /// <summary>The message.</summary>
    public OutboxEnvelope Message { get; }

    internal Task Settled => _settled.Task;

    /// <summary>The consumer has durably settled the message (handled, recognised as a duplicate, or scheduled for retry).</summary>
    public void Complete() => _settled.TrySetResult();

    /// <summary>The consumer gave the message up unsettled (e.g. it stopped): the publish fails and the relay retries.</summary>
    /// <param name="reason">Why.</param>
    public void Fail(Exception reason) => _settled.TrySetException(reason);
}
