using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Postbox.EntityFrameworkCore;

/// <summary>
/// Writes a context's staged messages in the transaction of its save. Without an open transaction it begins one before
/// EF writes (EF then joins it instead of using its own), commits it once the save succeeded and rolls it back when it
/// failed; the messages stay staged until a commit, so a save retried after a failure writes them again (ids already in
/// the outbox are skipped, so writing twice in one transaction is harmless). Stateless: the state is the context's
/// <see cref="OutboxStage"/>.
/// </summary>
internal sealed class OutboxSaveChangesInterceptor : SaveChangesInterceptor
{
    public static readonly OutboxSaveChangesInterceptor Instance = new();

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        if (Stage(eventData.Context) is not { } stage)
        {
            return result;
        }

        var context = eventData.Context!;
        await RollBackOwnedAsync(stage).ConfigureAwait(false);
        var transaction = context.Database.CurrentTransaction;
        if (transaction is null)
        {
            transaction = await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            stage.OwnedTransaction = transaction;
        }

        try
        {
            await stage.WriteAsync(transaction.GetDbTransaction(), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await RollBackOwnedAsync(stage).ConfigureAwait(false);
            throw;
        }

        return result;
    }

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        if (Stage(eventData.Context) is not { } stage)
        {
            return result;
        }

        var context = eventData.Context!;
        RollBackOwned(stage);
        var transaction = context.Database.CurrentTransaction;
        if (transaction is null)
        {
            transaction = context.Database.BeginTransaction();
            stage.OwnedTransaction = transaction;
        }

        try
        {
            // IOutbox is asynchronous only. Blocking here is what a synchronous SaveChanges asks for; .NET has no
            // synchronization context to deadlock on outside legacy UI frameworks.
            stage.WriteAsync(transaction.GetDbTransaction(), CancellationToken.None).GetAwaiter().GetResult();
        }
        catch
        {
            RollBackOwned(stage);
            throw;
        }

        return result;
    }

    public override async ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        if (Stage(eventData.Context) is not { } stage)
        {
            return result;
        }

        if (stage.OwnedTransaction is { } owned)
        {
            stage.OwnedTransaction = null;
            try
            {
                await owned.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }
        }

        // Committed, or written into the caller's own transaction (which now decides for the entities and the messages alike).
        stage.Clear();
        return result;
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        if (Stage(eventData.Context) is not { } stage)
        {
            return result;
        }

        if (stage.OwnedTransaction is { } owned)
        {
            stage.OwnedTransaction = null;
            using (owned)
            {
                owned.Commit();
            }
        }

        stage.Clear();
        return result;
    }

    public override async Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        if (Stage(eventData.Context) is { } stage)
        {
            await RollBackOwnedAsync(stage).ConfigureAwait(false);
        }
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData)
    {
        if (Stage(eventData.Context) is { } stage)
        {
            RollBackOwned(stage);
        }
    }

    public override async Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
    {
        if (Stage(eventData.Context) is { } stage)
        {
            await RollBackOwnedAsync(stage).ConfigureAwait(false);
        }
    }

    public override void SaveChangesCanceled(DbContextEventData eventData)
    {
        if (Stage(eventData.Context) is { } stage)
        {
            RollBackOwned(stage);
        }
    }

    /// <summary>The context's stage when it has staged messages or a transaction of ours to finish; otherwise null.</summary>
    private static OutboxStage? Stage(DbContext? context)
    {
        if (context is null)
        {
            return null;
        }

        var stage = context.GetService<OutboxStage>();
        return stage.Count > 0 || stage.OwnedTransaction is not null ? stage : null;
    }

    private static async Task RollBackOwnedAsync(OutboxStage stage)
    {
        if (stage.OwnedTransaction is not { } owned)
        {
            return;
        }

        stage.OwnedTransaction = null;
        try
        {
            // Not cancellable: the save's token may be what was cancelled, and the transaction must still end.
            await owned.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (DbException)
        {
            // The connection broke: the server discards the transaction with it. The save's own error is the one to report.
        }
        catch (InvalidOperationException)
        {
            // The transaction already completed (e.g. the connection was closed under it): nothing is left to roll back.
        }
        finally
        {
            await owned.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static void RollBackOwned(OutboxStage stage)
    {
        if (stage.OwnedTransaction is not { } owned)
        {
            return;
        }

        stage.OwnedTransaction = null;
        try
        {
            owned.Rollback();
        }
        catch (DbException)
        {
            // The connection broke: the server discards the transaction with it. The save's own error is the one to report.
        }
        catch (InvalidOperationException)
        {
            // The transaction already completed (e.g. the connection was closed under it): nothing is left to roll back.
        }
        finally
        {
            owned.Dispose();
        }
    }
}
