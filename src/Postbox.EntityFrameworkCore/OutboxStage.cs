using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Postbox.Producer;

namespace Postbox.EntityFrameworkCore;

/// <summary>
/// The messages staged on one context instance until a save commits them, and the transaction a save began for them.
/// </summary>
internal sealed class OutboxStage : IResettableService
{
    private readonly List<(IOutbox Outbox, OutboxMessage Message)> _pending = [];

    public int Count => _pending.Count;

    /// <summary>The transaction <see cref="OutboxSaveChangesInterceptor"/> began for the current save, if any.</summary>
    public IDbContextTransaction? OwnedTransaction { get; set; }

    public static OutboxStage Of(DbContext context)
    {
        if (context.GetService<IDbContextOptions>().FindExtension<PostboxOptionsExtension>() is null)
        {
            throw new InvalidOperationException(
                $"'{context.GetType().Name}' has no transaction and Postbox is not enabled on its options, so the message could not commit with SaveChanges: " +
                "add .UsePostbox() to the context's options (e.g. o.UseNpgsql(...).UsePostbox()), or begin a transaction first (Database.BeginTransactionAsync()).");
        }

        return context.GetService<OutboxStage>();
    }

    public void Add(IOutbox outbox, IReadOnlyList<OutboxMessage> messages)
    {
        // Validate now (and stamp the caller's trace context), so a bad message fails at the call that made it, not at
        // a later SaveChanges; the staged ones take part so an id staged twice is refused too.
        if (outbox is IOutboxPreparer preparer)
        {
            preparer.Prepare([.. _pending.Select(p => p.Message), .. messages]);
        }

        foreach (var message in messages)
        {
            _pending.Add((outbox, message));
        }
    }

    /// <summary>Writes every staged message through <paramref name="transaction"/>; they stay staged until <see cref="Clear"/>.</summary>
    public async Task WriteAsync(DbTransaction transaction, CancellationToken cancellationToken)
    {
        // Normally one outbox; several are written in runs, keeping the staging order.
        var start = 0;
        while (start < _pending.Count)
        {
            var outbox = _pending[start].Outbox;
            var end = start;
            while (end < _pending.Count && ReferenceEquals(_pending[end].Outbox, outbox))
            {
                end++;
            }

            var run = _pending.GetRange(start, end - start).ConvertAll(p => p.Message);
            await outbox.EnqueueAsync(transaction, run, cancellationToken).ConfigureAwait(false);
            start = end;
        }
    }

    public void Clear() => _pending.Clear();

    public void ResetState()
    {
        _pending.Clear();
        OwnedTransaction?.Dispose();
        OwnedTransaction = null;
    }

    public async Task ResetStateAsync(CancellationToken cancellationToken = default)
    {
        _pending.Clear();
        if (OwnedTransaction is { } owned)
        {
            OwnedTransaction = null;
            await owned.DisposeAsync().ConfigureAwait(false);
        }
    }
}
