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
        var entry = await Admin.GetAsync(Consumer, id, default);
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
        Assert.Null(await Admin.GetAsync(Consumer, id, default));
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

        var entry = await Admin.GetAsync(Consumer, id, default);
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

        var dead = Assert.Single(await Admin.ListDeadAsync(Consumer, 100, default));
        Assert.Equal((InboxState.Dead, 3), (dead.State, dead.Attempts));
        Assert.Equal(["first", "second", "third"], dead.Errors.Select(e => e.Error));
        Assert.Equal([1, 2, 3], dead.Errors.Select(e => e.Attempt));
        Assert.Empty(await ClaimAsync("w1", T0 + TimeSpan.FromDays(365)));

        Assert.Equal(1, await Admin.ReplayDeadAsync(Consumer, [id], default));
        Assert.Equal(0, await Admin.ReplayDeadAsync(Consumer, [id], default)); // no longer dead
        Assert.Empty(await Admin.ListDeadAsync(Consumer, 100, default));
        Assert.Single(await ClaimAsync("w1", DateTimeOffset.UtcNow.AddSeconds(1)));
        var replayed = await Admin.GetAsync(Consumer, id, default);
        Assert.Equal((InboxState.Retrying, 1, 3), (replayed!.State, replayed.Replays, replayed.Errors.Count));
    }

    // The operator's batch replay, with the outbox's shape: only the named consumer's dead letters change, whatever
    // else the list holds (a retrying message, a processed one, an unknown id, another consumer's dead letter).
    [Fact]
    public async Task ReplayDead_OfABatch_ReplaysOnlyThatConsumersDeadLetters_AndCountsThem()
    {
        Task DeadAsync(Guid id, string consumer) => Store.RecordFailureAsync(Failure(id, 1, T0, next: null) with { Consumer = consumer }, CancellationToken.None);
        var (dead1, dead2, othersDead, retrying, processed, unknown) =
            (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        await DeadAsync(dead1, Consumer);
        await DeadAsync(dead2, Consumer);
        await DeadAsync(othersDead, "another-consumer");
        await Store.RecordFailureAsync(Failure(retrying, 1, T0, T0 + TimeSpan.FromHours(1)), CancellationToken.None);
        await using (var inbox = await Store.BeginAsync(processed, Consumer, "mail", T0, CancellationToken.None))
        {
            await inbox!.CommitAsync(CancellationToken.None);
        }

        Assert.Equal(3, (await Admin.ListDeadAsync(null, 100, default)).Count);
        Assert.Equal([othersDead], (await Admin.ListDeadAsync("another-consumer", 100, default)).Select(e => e.MessageId));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Admin.ListDeadAsync(Consumer, 0, default));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Admin.ListDeadAsync(Consumer, 10_001, default));
        Assert.Equal(0, await Admin.ReplayDeadAsync(Consumer, [], default));

        Assert.Equal(2, await Admin.ReplayDeadAsync(Consumer, [dead1, retrying, processed, unknown, othersDead, dead2], default));

        Assert.Equal(InboxState.Retrying, (await Admin.GetAsync(Consumer, dead1, default))!.State);
        Assert.Equal(InboxState.Retrying, (await Admin.GetAsync(Consumer, dead2, default))!.State);
        Assert.Equal(InboxState.Dead, (await Admin.GetAsync("another-consumer", othersDead, default))!.State);
        Assert.Equal((InboxState.Retrying, 0), ((await Admin.GetAsync(Consumer, retrying, default))!.State, (await Admin.GetAsync(Consumer, retrying, default))!.Replays));
        Assert.Equal(InboxState.Processed, (await Admin.GetAsync(Consumer, processed, default))!.State);
        Assert.Null(await Admin.GetAsync(Consumer, unknown, default));
        Assert.Equal([othersDead], (await Admin.ListDeadAsync(null, 100, default)).Select(e => e.MessageId));
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
        Assert.Equal(InboxState.Processed, (await Admin.GetAsync(Consumer, id, default))!.State);
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
            Assert.NotNull(await Admin.GetAsync(Consumer, kept, default));
        }
    }

    private static InboxParking Parking(Guid id, string key = "k", DateTimeOffset? at = null) =>
        new(id, Consumer, "mail", key, "SendMail", "{}"u8.ToArray(), new Dictionary<string, string> { ["x-tenant"] = "acme" }, at ?? T0);

    private Task<IReadOnlyList<InboxRetry>> ClaimInKeyOrderAsync(DateTimeOffset now, bool deadBlocks = true) =>
        Store.ClaimRetriesAsync(new RetryClaimRequest([Consumer], "w1", 10, now, now + Lease)
        {
            OrderedConsumers = [Consumer],
            DeadBlockingConsumers = deadBlocks ? [Consumer] : [],
        }, CancellationToken.None);

    private async Task SucceedRetryAsync(Guid id, DateTimeOffset now)
    {
        await using var inbox = await Store.BeginRetryAsync(id, Consumer, "w1", now, CancellationToken.None);
        await inbox!.CommitAsync(CancellationToken.None);
    }

    [Fact]
    public async Task KeyOrder_RetryingMessageHoldsItsKey_LaterOnesParkAndAreClaimedOneAtATimeInArrivalOrder()
    {
        var (first, second, third, other) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        Assert.True(await Store.RecordFailureAsync(Failure(first, 1, T0, T0), CancellationToken.None)); // key "k", retrying

        var blocked = await Store.BeginInKeyOrderAsync(second, Consumer, "mail", "k", deadBlocksKey: true, T0, CancellationToken.None);
        Assert.True(blocked.KeyBlocked);
        Assert.Null(blocked.Transaction);
        var free = await Store.BeginInKeyOrderAsync(other, Consumer, "mail", "k2", deadBlocksKey: true, T0, CancellationToken.None);
        Assert.False(free.KeyBlocked);
        await using (var inbox = free.Transaction)
        {
            await inbox!.CommitAsync(CancellationToken.None);
        }

        // A third message whose id sorts before the second's still queues behind it: arrival order, not id order.
        Assert.True(await Store.ParkAsync(Parking(second), CancellationToken.None));
        Assert.True(await Store.ParkAsync(Parking(third), CancellationToken.None));
        Assert.False(await Store.ParkAsync(Parking(second), CancellationToken.None)); // a duplicate
        var again = await Store.BeginInKeyOrderAsync(second, Consumer, "mail", "k", deadBlocksKey: true, T0, CancellationToken.None);
        Assert.Equal((null, false), (again.Transaction, again.KeyBlocked)); // recorded already: a duplicate, not a blocked key

        Assert.Equal([first], (await ClaimInKeyOrderAsync(T0)).Select(r => r.MessageId));
        Assert.Empty(await ClaimInKeyOrderAsync(T0)); // the head is leased: nothing behind it is claimable
        await SucceedRetryAsync(first, T0);
        var next = Assert.Single(await ClaimInKeyOrderAsync(T0));
        Assert.Equal((second, 0, "k"), (next.MessageId, next.Attempts, next.Key));
        await SucceedRetryAsync(second, T0);
        Assert.Equal([third], (await ClaimInKeyOrderAsync(T0)).Select(r => r.MessageId));
        await SucceedRetryAsync(third, T0);

        var entry = await Admin.GetAsync(Consumer, second, default);
        Assert.Equal((InboxState.Processed, 1), (entry!.State, entry.Attempts));
        var nowFree = await Store.BeginInKeyOrderAsync(Guid.CreateVersion7(), Consumer, "mail", "k", deadBlocksKey: true, T0, CancellationToken.None);
        Assert.False(nowFree.KeyBlocked);
        await nowFree.Transaction!.DisposeAsync();
    }

    /// <summary>
    /// Keys are opaque: "k" retrying holds back "k" only, not "k ", "k  " or " k" (MySQL's PAD SPACE collation made them
    /// one key); and parked messages of those keys are each the head of their own key in the retry claim.
    /// </summary>
    [Fact]
    public async Task KeyOrder_KeysDifferingOnlyInSpaces_DoNotHoldEachOther()
    {
        var first = Guid.CreateVersion7();
        Assert.True(await Store.RecordFailureAsync(Failure(first, 1, T0, T0), CancellationToken.None)); // key "k", retrying

        foreach (var key in new[] { "k ", "k  ", " k" })
        {
            var begun = await Store.BeginInKeyOrderAsync(Guid.CreateVersion7(), Consumer, "mail", key, deadBlocksKey: true, T0, CancellationToken.None);
            Assert.False(begun.KeyBlocked, $"'{key}' was held back by 'k'");
            await begun.Transaction!.DisposeAsync();
        }

        var parked = new[] { (Id: Guid.CreateVersion7(), Key: "k "), (Id: Guid.CreateVersion7(), Key: "k  ") };
        foreach (var (id, key) in parked)
        {
            Assert.True(await Store.ParkAsync(Parking(id, key), CancellationToken.None));
        }

        var claimed = await ClaimInKeyOrderAsync(T0);
        Assert.Equal(new[] { first }.Concat(parked.Select(p => p.Id)).Order(), claimed.Select(r => r.MessageId).Order());
    }

    [Fact]
    public async Task KeyOrder_DeadLetterHoldsItsKeyOnlyUnderBlock_AndAnUnorderedClaimIgnoresKeys()
    {
        var (dead, parked) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        Assert.True(await Store.RecordFailureAsync(Failure(dead, 1, T0, next: null), CancellationToken.None));

        Assert.True((await Store.BeginInKeyOrderAsync(Guid.CreateVersion7(), Consumer, "mail", "k", deadBlocksKey: true, T0, CancellationToken.None)).KeyBlocked);
        var skip = await Store.BeginInKeyOrderAsync(Guid.CreateVersion7(), Consumer, "mail", "k", deadBlocksKey: false, T0, CancellationToken.None);
        Assert.False(skip.KeyBlocked);
        await skip.Transaction!.DisposeAsync();

        Assert.True(await Store.ParkAsync(Parking(parked), CancellationToken.None));
        Assert.Empty(await ClaimInKeyOrderAsync(T0, deadBlocks: true));
        Assert.Equal([parked], (await ClaimInKeyOrderAsync(T0, deadBlocks: false)).Select(r => r.MessageId));

        // Replayed, the dead letter is the key's head again and runs before anything parked behind it.
        await Store.ReleaseRetryAsync(parked, Consumer, "w1", T0, CancellationToken.None);
        Assert.Equal(1, await Admin.ReplayDeadAsync(Consumer, [dead], default));
        Assert.Equal([dead], (await ClaimInKeyOrderAsync(DateTimeOffset.UtcNow.AddSeconds(1))).Select(r => r.MessageId));

        // A consumer that does not order by key claims by due time alone.
        var third = Guid.CreateVersion7();
        Assert.True(await Store.ParkAsync(Parking(third), CancellationToken.None));
        Assert.Equal(new[] { parked, third }.Order(), (await ClaimAsync("w2", DateTimeOffset.UtcNow.AddSeconds(1))).Select(r => r.MessageId).Order());
    }
}
