using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Retry;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

// The writer (IOutbox over the store's IOutboxWriter) and the wake-up source, as every store must have them.
public abstract partial class OutboxStoreConformanceTests
{
    private static readonly TimeSpan WakeupWait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Waits until the wake-up source started by the test listens, so that a notification sent afterwards cannot be
    /// lost. Stores with a wake-up source override it.
    /// </summary>
    protected virtual Task WaitUntilListeningAsync() => Task.CompletedTask;

    // The outbox's promise: the message is stored exactly when the caller's business work is, through one transaction
    // the caller owns; and until that commit a relay cannot see it.
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public async Task Enqueue_InTheCallersTransaction_IsStoredIfAndOnlyIfTheTransactionCommits(bool commit, bool batch)
    {
        await using var provider = CreatePostbox();
        var outbox = provider.GetRequiredService<IOutbox>();
        var messages = Enumerable.Range(0, batch ? 3 : 1).Select(_ => M()).ToList();
        var business = $"order-{messages[0].Id:N}";
        var stored = await CountAsync();

        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await InsertBusinessRowAsync(connection, transaction, business);
            if (batch)
            {
                Assert.Equal(messages.Count, await outbox.EnqueueAsync(transaction, messages));
            }
            else
            {
                Assert.True(await outbox.EnqueueAsync(transaction, messages[0]));
            }

            // Not committed yet: another connection (a relay's) sees nothing.
            Assert.Equal(stored, await CountAsync());

            if (commit)
            {
                await transaction.CommitAsync();
            }
            else
            {
                await transaction.RollbackAsync();
            }
        }

        if (commit)
        {
            Assert.Contains(business, await BusinessRowsAsync());
            Assert.Equal(stored + messages.Count, await CountAsync());
            foreach (var message in messages)
            {
                Assert.Equal((0, 0, (string?)null), await GetRowAsync(message.Id));
            }

            Assert.Equal(messages.Select(m => m.Id), (await ClaimAsync("relay", 10, T0)).Select(e => e.Id));
        }
        else
        {
            Assert.DoesNotContain(business, await BusinessRowsAsync());
            Assert.Equal(stored, await CountAsync());
            foreach (var message in messages)
            {
                Assert.Null(await GetRowAsync(message.Id));
            }

            Assert.Empty(await ClaimAsync("relay", 10, T0));
        }
    }

    // A message's own MaxAttempts replaces the relay's, below it and above it; a message without one gets the relay's.
    // Run through the real relay: the writer must store the budget, the claim carry it, the relay apply it.
    [Fact]
    public async Task Relay_PerMessageMaxAttempts_ReplacesTheRelaysBudget_BelowAndAbove()
    {
        var below = new OutboxMessage("orders", "{}"u8.ToArray()) { MaxAttempts = 2 };
        var above = new OutboxMessage("orders", "{}"u8.ToArray()) { MaxAttempts = 6 };
        var relayDefault = M();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        var postbox = builder.Services.AddPostbox(o =>
        {
            o.Relay.MaxAttempts = 4;
            o.Relay.RetryPolicy = RetryPolicy.Fixed(TimeSpan.Zero);
            o.Relay.PollInterval = TimeSpan.FromMilliseconds(20);
        });
        // Nobody subscribes to "orders": every publish fails as unroutable (a transient failure), so each message
        // runs through its whole attempt budget.
        postbox.UseInMemoryTransport();
        UseStore(postbox);
        using var host = builder.Build();
        var outbox = host.Services.GetRequiredService<IOutbox>();
        await using (var connection = await OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.Equal(3, await outbox.EnqueueAsync(transaction, [below, above, relayDefault]));
            await transaction.CommitAsync();
        }

        await host.StartAsync();
        try
        {
            await Eventually.HoldsAsync(async () =>
            {
                foreach (var id in new[] { below.Id, above.Id, relayDefault.Id })
                {
                    if ((await GetRowAsync(id))?.State != 2)
                    {
                        return false;
                    }
                }

                return true;
            }, TimeSpan.FromSeconds(60), "all three messages are dead");
        }
        finally
        {
            await host.StopAsync();
        }

        Assert.Equal(2, (await GetRowAsync(below.Id))!.Value.Attempts);
        Assert.Equal(6, (await GetRowAsync(above.Id))!.Value.Attempts);
        Assert.Equal(4, (await GetRowAsync(relayDefault.Id))!.Value.Attempts);
    }

    // The cross-process wake-up: a relay waiting on the store's wake-up source hears of an enqueue another process
    // committed, without polling. Stores without one override this test with a Skip that says so.
    [Fact]
    public virtual async Task WakeupSource_AnEnqueueCommittedElsewhere_WakesAWaitingRelay()
    {
        await using var listener = CreatePostbox();
        var source = listener.GetService<IRelayWakeupSource>();
        Assert.NotNull(source);
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var listening = source.ListenAsync(() => woken.TrySetResult(), stop.Token);
        try
        {
            await WaitUntilListeningAsync();
            Assert.False(woken.Task.IsCompleted, "woken before anything was enqueued");

            // Another process: its own registration and connection.
            await using var producer = CreatePostbox();
            await using (var connection = await OpenConnectionAsync())
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                Assert.True(await producer.GetRequiredService<IOutbox>().EnqueueAsync(transaction, M()));
                await transaction.CommitAsync();
            }

            await woken.Task.WaitAsync(WakeupWait);
        }
        finally
        {
            await stop.CancelAsync();
            await listening;
        }
    }
}
