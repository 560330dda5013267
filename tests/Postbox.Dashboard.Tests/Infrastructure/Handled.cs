using System.Collections.Concurrent;
using Postbox.Consumers;

namespace Postbox.Dashboard.Tests.Infrastructure;

public sealed record WorkItem(string Text);

/// <summary>What the real consumer handled, by message id.</summary>
public sealed class Handled
{
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<string>> _seen = new();

    public void Record(Guid id, string text) => Of(id).TrySetResult(text);

    public Task<string> WaitAsync(Guid id, TimeSpan timeout) => Of(id).Task.WaitAsync(timeout);

    public bool Has(Guid id) => _seen.TryGetValue(id, out var seen) && seen.Task.IsCompleted;

    private TaskCompletionSource<string> Of(Guid id) => _seen.GetOrAdd(id, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
}

public sealed class RecordingHandler(Handled handled) : IMessageHandler<WorkItem>
{
    public Task HandleAsync(WorkItem message, MessageContext context, CancellationToken cancellationToken)
    {
        handled.Record(context.MessageId, message.Text);
        return Task.CompletedTask;
    }
}
