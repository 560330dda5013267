using System.Data.Common;
using Postbox.Consumers;

namespace Postbox.IntegrationTests.Store;

/// <summary>The behaviour every inbox store must have. Each provider runs this suite through a subclass.</summary>
public abstract class InboxStoreConformanceTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private const string Consumer = "mailer";

    protected abstract IInboxStore Store { get; }

    protected abstract IInboxAdmin Admin { get; }

    /// <summary>Writes one business row (the handler's own effect) through the inbox transaction.</summary>
    protected abstract Task WriteEffectAsync(DbTransaction transaction, Guid id);

    protected abstract Task<long> CountEffectsAsync();

    private static InboxFailure Failure(Guid id, int attempt, DateTimeOffset at, DateTimeOffset? next, string? owner = null, string error = "boom") =>
        new(id, Consumer, "mail", "k", "SendMail", "{\"to\":\"a@b.c\"}"u8.ToArray(), new Dictionary<string, string> { ["x-tenant"] = "acme" },
            attempt, error, at, next, owner);

    private Task<IReadOnlyList<InboxRetry>> ClaimAsync(string owner, DateTimeOffset now) =>
        Store.ClaimRetriesAsync(new RetryClaimRequest([Consumer], owner, 10, now, now + Lease), CancellationToken.None);

    [Fact]
    public async Task Begin_ThenCommit_RecordsTheMessageWithTheHandlersEffect_AndASecondBeginIsADuplicate()
    {
        var id = Guid.CreateVersion7();
        await using (var inbox = await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None))
        {
            Assert.NotNull(inbox);
            await WriteEffectAsync(inbox.Transaction, id);
            await inbox.CommitAsync(CancellationToken.None);
        }

        Assert.Null(await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None));
        await using (var otherConsumer = await Store.BeginAsync(id, "another-consumer", "mail", T0, CancellationToken.None))
        {
            Assert.NotNull(otherConsumer); // the inbox key is (message, consumer): each consumer handles the message once
        }
        Assert.Equal(1L, await CountEffectsAsync());
        var entry = await Admin.GetAsync(id, Consumer);
        Assert.Equal((InboxState.Processed, 1), (entry!.State, entry.Attempts));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task IsEnded_TellsWhetherTheHandlerEndedTheTransactionItself(bool commit)
    {
        var id = Guid.CreateVersion7();
        await using var inbox = await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None);
        await WriteEffectAsync(inbox!.Transaction, id);
        Assert.False(await inbox.IsEndedAsync(CancellationToken.None)); // a handler's failure with the transaction still open

        if (commit)
        {
            await inbox.Transaction.CommitAsync();
        }
        else
        {
            await inbox.Transaction.RollbackAsync();
        }

        Assert.True(await inbox.IsEndedAsync(CancellationToken.None));
        await Assert.ThrowsAnyAsync<Exception>(() => inbox.CommitAsync(CancellationToken.None)); // the runtime's commit cannot succeed
    }

    [Fact]
    public async Task Begin_WithoutCommit_LeavesNeitherTheEffectNorTheInboxRow()
    {
        var id = Guid.CreateVersion7();
        await using (var inbox = await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None))
        {
            await WriteEffectAsync(inbox!.Transaction, id);
        }

        Assert.Equal(0L, await CountEffectsAsync());
        Assert.Null(await Admin.GetAsync(id, Consumer));
        await using var again = await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None);
        Assert.NotNull(again);
    }

    [Fact]
    public async Task Begin_WhileAnotherCopyIsBeingHandled_WaitsAndIsADuplicateOnceItCommits()
    {
        var id = Guid.CreateVersion7();
        var first = await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None);
        var second = Task.Run(() => Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None));
        await Task.Delay(200);
        Assert.False(second.IsCompleted);

        await first!.CommitAsync(CancellationToken.None);
        await first.DisposeAsync();

        Assert.Null(await second);
    }

    [Fact]
    public async Task Failure_SchedulesADurableRetry_ClaimedWhenDue_WithThePayloadAndHistory()
    {
        var id = Guid.CreateVersion7();
        var due = T0 + TimeSpan.FromMinutes(1);
        Assert.True(await Store.RecordFailureAsync(Failure(id, 1, T0, due), CancellationToken.None));

        Assert.Empty(await ClaimAsync("w1", due - TimeSpan.FromSeconds(1)));
        var retry = Assert.Single(await ClaimAsync("w1", due));
        Assert.Equal((id, Consumer, "mail", "k", "SendMail", 1), (retry.MessageId, retry.Consumer, retry.Topic, retry.Key, retry.Type, retry.Attempts));
        Assert.Equal("{\"to\":\"a@b.c\"}", System.Text.Encoding.UTF8.GetString(retry.Payload.Span));
        Assert.Equal("acme", retry.Headers["x-tenant"]);

        await using (var inbox = await Store.BeginRetryAsync(id, Consumer, "w1", due, CancellationToken.None))
        {
            await WriteEffectAsync(inbox!.Transaction, id);
            await inbox.CommitAsync(CancellationToken.None);
        }

        var entry = await Admin.GetAsync(id, Consumer);
        Assert.Equal((InboxState.Processed, 2), (entry!.State, entry.Attempts));
        Assert.Equal("boom", Assert.Single(entry.Errors).Error);
        Assert.Null(await Store.BeginAsync(id, Consumer, "mail", due, CancellationToken.None));
    }

    [Fact]
    public async Task RetryLease_IsTakenOverOnlyAfterExpiry_AndTheOldOwnerCanNoLongerHandleIt()
    {
        var id = Guid.CreateVersion7();
        await Store.RecordFailureAsync(Failure(id, 1, T0, T0), CancellationToken.None);
        Assert.Single(await ClaimAsync("w1", T0));

        Assert.Empty(await ClaimAsync("w2", T0 + Lease - TimeSpan.FromSeconds(1)));
        Assert.Single(await ClaimAsync("w2", T0 + Lease + TimeSpan.FromSeconds(1)));
        Assert.Null(await Store.BeginRetryAsync(id, Consumer, "w1", T0 + Lease, CancellationToken.None));
        Assert.False(await Store.RecordFailureAsync(Failure(id, 2, T0, T0, owner: "w1"), CancellationToken.None));
    }

    [Fact]
    public async Task FailedRetries_AppendTheirErrors_AndTheLastOneDeadLetters_ThenReplayRunsItAgain()
    {
        var id = Guid.CreateVersion7();
        await Store.RecordFailureAsync(Failure(id, 1, T0, T0, error: "first"), CancellationToken.None);
        await ClaimAsync("w1", T0);
        Assert.True(await Store.RecordFailureAsync(Failure(id, 2, T0, T0, owner: "w1", error: "second"), CancellationToken.None));
        await ClaimAsync("w1", T0);
        Assert.True(await Store.RecordFailureAsync(Failure(id, 3, T0 + TimeSpan.FromSeconds(5), next: null, owner: "w1", error: "third"), CancellationToken.None));

        var dead = Assert.Single(await Admin.GetDeadLettersAsync(Consumer));
        Assert.Equal((InboxState.Dead, 3), (dead.State, dead.Attempts));
        Assert.Equal(["first", "second", "third"], dead.Errors.Select(e => e.Error));
        Assert.Equal([1, 2, 3], dead.Errors.Select(e => e.Attempt));
        Assert.Empty(await ClaimAsync("w1", T0 + TimeSpan.FromDays(365)));

        Assert.True(await Admin.ReplayAsync(id, Consumer));
        Assert.False(await Admin.ReplayAsync(id, Consumer)); // no longer dead
        Assert.Empty(await Admin.GetDeadLettersAsync(Consumer));
        Assert.Single(await ClaimAsync("w1", DateTimeOffset.UtcNow.AddSeconds(1)));
        var replayed = await Admin.GetAsync(id, Consumer);
        Assert.Equal((InboxState.Retrying, 1, 3), (replayed!.State, replayed.Replays, replayed.Errors.Count));
    }

    [Fact]
    public async Task FirstFailure_OfAnAlreadyProcessedMessage_ChangesNothing()
    {
        var id = Guid.CreateVersion7();
        await using (var inbox = await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None))
        {
            await inbox!.CommitAsync(CancellationToken.None);
        }

        Assert.False(await Store.RecordFailureAsync(Failure(id, 1, T0, T0), CancellationToken.None));
        Assert.Equal(InboxState.Processed, (await Admin.GetAsync(id, Consumer))!.State);
    }

    [Fact]
    public async Task Release_HandsARetryBackForItsNextTime()
    {
        var id = Guid.CreateVersion7();
        await Store.RecordFailureAsync(Failure(id, 1, T0, T0), CancellationToken.None);
        Assert.Single(await ClaimAsync("w1", T0));

        await Store.ReleaseRetryAsync(id, Consumer, "w1", T0 + TimeSpan.FromSeconds(2), CancellationToken.None);

        Assert.Empty(await ClaimAsync("w2", T0 + TimeSpan.FromSeconds(1)));
        Assert.Single(await ClaimAsync("w2", T0 + TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task Purge_DeletesOnlyProcessedRowsPastRetention_InBoundedBatches()
    {
        var processed = Enumerable.Range(0, 12).Select(_ => Guid.CreateVersion7()).ToList();
        foreach (var id in processed)
        {
            await using var inbox = await Store.BeginAsync(id, Consumer, "mail", T0, CancellationToken.None);
            await inbox!.CommitAsync(CancellationToken.None);
        }

        var (retrying, dead, recent) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        await Store.RecordFailureAsync(Failure(retrying, 1, T0, T0 + TimeSpan.FromDays(1)), CancellationToken.None);
        await Store.RecordFailureAsync(Failure(dead, 1, T0, next: null), CancellationToken.None);
        await using (var inbox = await Store.BeginAsync(recent, Consumer, "mail", T0 + TimeSpan.FromHours(2), CancellationToken.None))
        {
            await inbox!.CommitAsync(CancellationToken.None);
        }

        var cutoff = T0 + TimeSpan.FromHours(1);
        Assert.Equal(5, await Store.PurgeProcessedAsync(cutoff, 5, CancellationToken.None));
        Assert.Equal(5, await Store.PurgeProcessedAsync(cutoff, 5, CancellationToken.None));
        Assert.Equal(2, await Store.PurgeProcessedAsync(cutoff, 5, CancellationToken.None));
        Assert.Equal(0, await Store.PurgeProcessedAsync(cutoff, 5, CancellationToken.None));

        foreach (var kept in new[] { retrying, dead, recent })
        {
            Assert.NotNull(await Admin.GetAsync(kept, Consumer));
        }
    }
}
