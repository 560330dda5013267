using Postbox.Monitoring;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

// Pause and resume of a topic's publishing (IPostboxPauses, migration 006), at the claim: every store parks keyless
// messages of a paused topic and holds keys whose head is of a paused topic back.
public abstract partial class OutboxStoreConformanceTests
{
    /// <summary>The store's pause and resume.</summary>
    protected abstract IPostboxPauses Pauses { get; }

    private static OutboxMessage On(string topic, string? key = null) => new(topic, "{}"u8.ToArray()) { Key = key };

    private async Task<List<OutboxEnvelope>> DrainAsync(string owner, int batch, DateTimeOffset now)
    {
        var all = new List<OutboxEnvelope>();
        string? cursor = null;
        for (var i = 0; i < 1000; i++)
        {
            var result = await Store.ClaimAsync(new ClaimRequest(owner, batch, now, now + Lease, true, cursor), CancellationToken.None);
            cursor = result.NextKeyCursor;
            all.AddRange(result.Messages);
            if (result.Messages.Count > 0)
            {
                await SettleAsync(owner, now, delivered: [.. result.Messages.Select(m => m.Id)]);
            }

            if (!result.MayHaveMore && result.Messages.Count == 0)
            {
                return all;
            }
        }

        throw new InvalidOperationException("the claims never ran dry");
    }

    [Fact]
    public async Task Claim_PausedTopic_IsNotPublished_WhileOtherTopicsAre_AndResumePublishesEachOnceInKeyOrder()
    {
        // Keyless and keyed messages of two topics, interleaved; key "k-shared" has messages of both.
        var messages = new List<OutboxMessage>();
        for (var i = 0; i < 6; i++)
        {
            messages.Add(On("paused"));
            messages.Add(On("flowing"));
            messages.Add(On("paused", $"kp{i % 2}"));
            messages.Add(On("flowing", $"kf{i % 2}"));
        }

        await EnqueueAsync(messages, T0);
        Assert.True(await Pauses.PauseAsync(MessageSide.Outbox, "paused", "tester", CancellationToken.None));

        var whilePaused = await DrainAsync("a", 5, T0);

        Assert.Equal(messages.Where(m => m.Topic == "flowing").Select(m => m.Id).Order(), whilePaused.Select(e => e.Id).Order());
        foreach (var m in messages.Where(m => m.Topic == "paused"))
        {
            // Keyless: parked (scheduled, due at the end of time); keyed: left ready, its key held back.
            Assert.Equal(m.Key is null ? 4 : 0, (await GetRowAsync(m.Id))!.Value.State);
        }

        Assert.True(await Pauses.ResumeAsync(MessageSide.Outbox, "paused", CancellationToken.None));
        var afterResume = await DrainAsync("a", 5, T0);

        Assert.Equal(messages.Where(m => m.Topic == "paused").Select(m => m.Id).Order(), afterResume.Select(e => e.Id).Order());
        foreach (var key in new[] { "kp0", "kp1" })
        {
            Assert.Equal(messages.Where(m => m.Key == key).Select(m => m.Id), afterResume.Where(e => e.Key == key).Select(e => e.Id));
        }

        foreach (var m in messages)
        {
            Assert.Equal(1, (await GetRowAsync(m.Id))!.Value.State);
        }
    }

    [Fact]
    public async Task Claim_KeyWhoseHeadIsOfAPausedTopic_HoldsItsLaterMessagesOfOtherTopicsBack()
    {
        var head = On("paused", "k");
        var follower = On("flowing", "k");
        var other = On("flowing", "j");
        await EnqueueAsync([head, follower, other], T0);
        await Pauses.PauseAsync(MessageSide.Outbox, "paused", null, CancellationToken.None);

        Assert.Equal([other.Id], (await DrainAsync("a", 10, T0)).Select(e => e.Id));
        Assert.Equal(0, (await GetRowAsync(follower.Id))!.Value.State);

        await Pauses.ResumeAsync(MessageSide.Outbox, "paused", CancellationToken.None);
        Assert.Equal([head.Id, follower.Id], (await DrainAsync("a", 10, T0)).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_PausedBacklogAtTheHead_IsParkedOnce_AndLaterClaimsReachOtherTopicsWithoutWalkingIt()
    {
        var backlog = Enumerable.Range(0, 30).Select(_ => On("paused")).ToList();
        var late = On("flowing");
        await EnqueueAsync([.. backlog, late], T0);
        await Pauses.PauseAsync(MessageSide.Outbox, "paused", null, CancellationToken.None);

        // A batch full of parked messages says "come back at once", so the relay does not idle behind a paused backlog.
        var first = await Store.ClaimAsync(new ClaimRequest("a", 10, T0, T0 + Lease, true), CancellationToken.None);
        Assert.Empty(first.Messages);
        Assert.True(first.MayHaveMore);
        Assert.Equal(10, first.Parked);

        Assert.Equal([late.Id], (await DrainAsync("a", 10, T0)).Select(e => e.Id));
        foreach (var m in backlog)
        {
            Assert.Equal(4, (await GetRowAsync(m.Id))!.Value.State);
        }

        // Parked messages are out of every claim's way: a claim of one finds nothing and does not ask to come back.
        var idle = await Store.ClaimAsync(new ClaimRequest("a", 1, T0 + TimeSpan.FromDays(365), T0 + TimeSpan.FromDays(366), true), CancellationToken.None);
        Assert.Empty(idle.Messages);
        Assert.False(idle.MayHaveMore);

        Assert.True(await Pauses.ResumeAsync(MessageSide.Outbox, "paused", CancellationToken.None));
        Assert.Equal(backlog.Select(m => m.Id), (await DrainAsync("a", 7, T0)).Select(e => e.Id));
    }

    [Fact]
    public async Task Pause_WhileAMessageIsBeingPublished_LetsItFinish_AndItsRetryWaitsForResume()
    {
        var delivered = On("t");
        var failing = On("t");
        await EnqueueAsync([delivered, failing], T0);
        Assert.Equal(2, (await ClaimAsync("a", 10, T0)).Count);

        await Pauses.PauseAsync(MessageSide.Outbox, "t", null, CancellationToken.None);
        Assert.Equal(2, await SettleAsync("a", T0, delivered: [delivered.Id], failed: [new DeliveryFailure(failing.Id, "nack", T0 + TimeSpan.FromSeconds(5), Dead: false)]));
        Assert.Equal(1, (await GetRowAsync(delivered.Id))!.Value.State);

        // Its retry comes due while the topic is paused: parked, not published.
        Assert.Empty(await DrainAsync("a", 10, T0 + TimeSpan.FromSeconds(10)));
        Assert.Equal((4, 1), ((await GetRowAsync(failing.Id))!.Value.State, (await GetRowAsync(failing.Id))!.Value.Attempts));

        await Pauses.ResumeAsync(MessageSide.Outbox, "t", CancellationToken.None);
        var retried = Assert.Single(await DrainAsync("a", 10, T0 + TimeSpan.FromSeconds(10)));
        Assert.Equal((failing.Id, 1), (retried.Id, retried.Attempts));
    }

    [Fact]
    public async Task Pauses_AreListed_PauseTwiceKeepsTheFirst_ResumeOfWhatIsNotPausedSaysSo()
    {
        Assert.Empty(await Pauses.ListAsync(CancellationToken.None));
        Assert.True(await Pauses.PauseAsync(MessageSide.Inbox, "mailer", "ops", CancellationToken.None));
        Assert.True(await Pauses.PauseAsync(MessageSide.Outbox, "orders", "alice", CancellationToken.None));
        Assert.True(await Pauses.PauseAsync(MessageSide.Outbox, "Orders", null, CancellationToken.None)); // names are case-sensitive
        Assert.False(await Pauses.PauseAsync(MessageSide.Outbox, "orders", "bob", CancellationToken.None));

        var list = await Pauses.ListAsync(CancellationToken.None);
        Assert.Equal([(MessageSide.Outbox, "Orders", (string?)null), (MessageSide.Outbox, "orders", "alice"), (MessageSide.Inbox, "mailer", "ops")],
            list.Select(p => (p.Side, p.Name, p.PausedBy)));
        Assert.All(list, p => Assert.Equal(TimeSpan.Zero, p.PausedAt.Offset));

        Assert.False(await Pauses.ResumeAsync(MessageSide.Inbox, "orders", CancellationToken.None));
        Assert.True(await Pauses.ResumeAsync(MessageSide.Outbox, "orders", CancellationToken.None));
        Assert.False(await Pauses.ResumeAsync(MessageSide.Outbox, "orders", CancellationToken.None));
        Assert.Equal(["Orders", "mailer"], (await Pauses.ListAsync(CancellationToken.None)).Select(p => p.Name));

        await Assert.ThrowsAsync<ArgumentException>(() => Pauses.PauseAsync(MessageSide.Outbox, "", null, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => Pauses.PauseAsync(MessageSide.Outbox, new string('x', 256), null, CancellationToken.None));
    }
}
