using System.Collections.Concurrent;
using System.Threading.Channels;
using Postbox.Transport;
using Postbox.Transport.InMemory;

namespace Postbox.Consumers;

/// <summary>
/// Moves envelopes from the in-memory transport into a local buffer while holding at most <c>prefetch</c> unsettled,
/// like a broker's prefetch, so pausing stops intake rather than leaving everything buffered.
/// </summary>
internal sealed class InMemorySubscription : IConsumerSubscription
{
    private readonly ChannelReader<InMemoryDelivery> _source;
    private readonly ConcurrentDictionary<InMemoryDelivery, bool> _unsettled = new();
    private readonly Channel<IncomingMessage> _buffer = Channel.CreateUnbounded<IncomingMessage>();
    private readonly SemaphoreSlim _credits;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Task _pump;
    private TaskCompletionSource _resumed = CreateGate(open: true);

    public InMemorySubscription(ChannelReader<InMemoryDelivery> source, int prefetch)
    {
        _source = source;
        _credits = new SemaphoreSlim(prefetch, prefetch);
        _pump = PumpAsync();
    }

    public ChannelReader<IncomingMessage> Messages => _buffer.Reader;

    public Task PauseAsync(CancellationToken cancellationToken)
    {
        lock (_buffer)
        {
            if (_resumed.Task.IsCompleted)
            {
                _resumed = CreateGate(open: false);
            }
        }

        return Task.CompletedTask;
    }

    public Task ResumeAsync(CancellationToken cancellationToken)
    {
        lock (_buffer)
        {
            _resumed.TrySetResult();
        }

        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _buffer.Writer.TryComplete();

        // Whatever was taken but not settled goes back to its publisher as a failure, so the relay republishes it
        // (to this process's next start, or to another consumer) instead of counting it delivered.
        foreach (var delivery in _unsettled.Keys)
        {
            delivery.Fail(new TransportException($"The consumer of topic '{delivery.Message.Topic}' stopped before settling message {delivery.Message.Id}."));
        }

        _disposed.Dispose();
        _credits.Dispose();
    }

    private static TaskCompletionSource CreateGate(bool open)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open)
        {
            gate.SetResult();
        }

        return gate;
    }

    private async Task PumpAsync()
    {
        await Task.Yield();
        var token = _disposed.Token;
        while (!token.IsCancellationRequested)
        {
            await _credits.WaitAsync(token).ConfigureAwait(false);
            Task gate;
            lock (_buffer)
            {
                gate = _resumed.Task;
            }

            await gate.WaitAsync(token).ConfigureAwait(false);
            var delivery = await _source.ReadAsync(token).ConfigureAwait(false);
            _unsettled[delivery] = true;
            _buffer.Writer.TryWrite(new Message(this, delivery));
        }
    }

    private sealed class Message(InMemorySubscription owner, InMemoryDelivery delivery)
        : IncomingMessage(delivery.Message.Id, delivery.Message.Topic, delivery.Message.Key, delivery.Message.Type, delivery.Message.Payload,
            delivery.Message.Headers, redelivered: false)
    {
        public override ValueTask AckAsync(CancellationToken cancellationToken)
        {
            // The outcome is committed: now the publisher may count the message delivered.
            owner._unsettled.TryRemove(delivery, out _);
            delivery.Complete();
            owner.ReleaseCredit();
            return ValueTask.CompletedTask;
        }

        public override ValueTask RequeueAsync(CancellationToken cancellationToken)
        {
            // Keeps its credit: it is still unsettled, just back in the buffer.
            owner._buffer.Writer.TryWrite(this);
            return ValueTask.CompletedTask;
        }
    }

    private void ReleaseCredit()
    {
        if (!_disposed.IsCancellationRequested)
        {
            _credits.Release();
        }
    }
}
