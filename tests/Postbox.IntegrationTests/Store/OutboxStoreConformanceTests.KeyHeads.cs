using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

/// <summary>
/// The claim by key heads (issue: a blocked key stalled the whole outbox). Whatever blocks a key's head, and however many
/// followers the key has, every other key and every keyless message is claimed at once, and no message of a key is ever
/// claimed before an earlier one of that key.
/// </summary>
public abstract partial class OutboxStoreConformanceTests
{
    public enum Blocker
    {
        Dead,
        WaitingForRetry,
        InFlight,
        Delayed,
    }

    /// <summary>Claims like the relay does: again at once while the store says more may be waiting, at most <paramref name="rounds"/> times.</summary>
    private async Task<List<OutboxEnvelope>> ClaimLikeRelayAsync(string owner, int batch, DateTimeOffset now, int rounds = 4, bool block = true)
    {
        var all = new List<OutboxEnvelope>();
        string? cursor = null;
        for (var i = 0; i < rounds; i++)
        {
            var result = await Store.ClaimAsync(new ClaimRequest(owner, batch, now, now + Lease, block, cursor), CancellationToken.None);
            all.AddRange(result.Messages);
            cursor = result.NextKeyCursor;
            if (!result.MayHaveMore)
            {
                break;
            }
        }

        return all;
    }

    /// <summary>Enqueues key "k"'s head and makes it blocked the given way; returns the head.</summary>
    private async Task<OutboxMessage> BlockKeyAsync(Blocker blocker, string key = "k")
    {
        var head = M(key, blocker == Blocker.Delayed ? T0 + TimeSpan.FromHours(1) : null);
        await EnqueueAsync([head], T0);
        if (blocker is Blocker.Dead or Blocker.WaitingForRetry or Blocker.InFlight)
        {
            Assert.Equal([head.Id], (await ClaimLikeRelayAsync("blocker", 10, T0, rounds: 50)).Select(e => e.Id));
            if (blocker != Blocker.InFlight)
            {
                await SettleAsync("blocker", T0, failed: [new DeliveryFailure(head.Id, "x", T0 + TimeSpan.FromHours(1), Dead: blocker == Blocker.Dead)]);
            }
        }

        return head;
    }

    [Theory]
    [InlineData(Blocker.Dead, 100)]
    [InlineData(Blocker.Dead, 7)]
    [InlineData(Blocker.WaitingForRetry, 100)]
    [InlineData(Blocker.InFlight, 100)]
    [InlineData(Blocker.InFlight, 1)]
    [InlineData(Blocker.Delayed, 100)]
    public async Task Claim_BlockedKeyWithManyFollowers_NeverDelaysOtherKeysOrKeylessMessages(Blocker blocker, int batch)
    {
        await BlockKeyAsync(blocker);
        var followers = Enumerable.Range(0, 600).Select(_ => M("k")).ToList();
        await EnqueueAsync(followers, T0);
        var others = Enumerable.Range(0, 100).Select(i => M($"other-{i}")).Concat(Enumerable.Range(0, 20).Select(_ => M())).ToList();
        await EnqueueAsync(others, T0);

        // Enough rounds for 120 messages at this batch size, plus one: "at once", not after the blocker clears.
        var claimed = await ClaimLikeRelayAsync("r", batch, T0 + TimeSpan.FromSeconds(10), rounds: (others.Count / batch) + 3);

        Assert.Equal(others.Select(m => m.Id).Order(), claimed.Select(e => e.Id).Order());
        Assert.DoesNotContain(claimed, e => e.Key == "k");
    }

    [Fact]
    public async Task Claim_AfterTheBlockerClears_TheKeyResumesInOrder()
    {
        var head = await BlockKeyAsync(Blocker.InFlight);
        var followers = Enumerable.Range(0, 30).Select(_ => M("k")).ToList();
        await EnqueueAsync(followers, T0);
        Assert.Empty(await ClaimAsync("r", 10, T0));

        await SettleAsync("blocker", T0, delivered: [head.Id]);

        var order = new List<Guid>();
        for (var round = 0; round < 10 && order.Count < followers.Count; round++)
        {
            var batch = await ClaimAsync("r", 7, T0);
            order.AddRange(batch.Select(e => e.Id));
            await SettleAsync("r", T0, delivered: [.. batch.Select(e => e.Id)]);
        }

        Assert.Equal(followers.Select(m => m.Id), order);
    }

    [Fact]
    public async Task Claim_DelayedMessageOfAKey_IsNeverClaimedBeforeAnEarlierReadyMessageOfThatKey()
    {
        var first = M("k");
        await EnqueueAsync([first], T0);
        await EnqueueAsync([.. Enumerable.Range(0, 50).Select(_ => M())], T0);
        var delayed = M("k", T0 + TimeSpan.FromMinutes(1));
        await EnqueueAsync([delayed], T0);

        // Long after the delay, with a batch far smaller than what lies between the two.
        var order = new List<Guid>();
        for (var round = 0; round < 100; round++)
        {
            var batch = await ClaimAsync("r", 3, T0 + TimeSpan.FromMinutes(5));
            if (batch.Count == 0)
            {
                break;
            }

            order.AddRange(batch.Where(e => e.Key == "k").Select(e => e.Id));
            await SettleAsync("r", T0, delivered: [.. batch.Select(e => e.Id)]);
        }

        Assert.Equal([first.Id, delayed.Id], order);
    }

    [Fact]
    public async Task Claim_DelayedHead_HoldsBackLaterReadyMessagesOfItsKey_UntilDue()
    {
        var delayed = M("k", T0 + TimeSpan.FromMinutes(1));
        var ready = M("k");
        await EnqueueAsync([delayed, ready], T0);

        Assert.Empty(await ClaimAsync("r", 10, T0));
        Assert.Equal([delayed.Id, ready.Id], (await ClaimAsync("r", 10, T0 + TimeSpan.FromMinutes(1))).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_MoreBlockedKeysThanTheBatch_StillReachesAReadyKeyWithinBoundedRounds()
    {
        // 25 keys whose heads are in flight, then one ready key: with a batch of 4 the claim looks at 4 keys at a time and
        // goes round from its cursor, so the ready key is found within ceil(26 / 4) rounds.
        for (var i = 0; i < 25; i++)
        {
            await BlockKeyAsync(Blocker.InFlight, $"blocked-{i:D2}");
        }

        var ready = M("zz-ready");
        await EnqueueAsync([ready], T0);

        var claimed = await ClaimLikeRelayAsync("r", 4, T0, rounds: 8);

        Assert.Equal([ready.Id], claimed.Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_RoundRobin_ServesEveryKeyEvenWhenEarlierKeysKeepHavingWork()
    {
        // Keys a..j each with 5 messages, batch 3: successive claims move on from key to key instead of serving the first
        // keys again and again.
        var keys = Enumerable.Range(0, 10).Select(i => $"key-{i}").ToList();
        await EnqueueAsync([.. keys.SelectMany(k => Enumerable.Range(0, 5).Select(_ => M(k)))], T0);

        var seen = new HashSet<string>();
        string? cursor = null;
        for (var round = 0; round < 10; round++)
        {
            var result = await Store.ClaimAsync(new ClaimRequest("r", 3, T0, T0 + Lease, true, cursor), CancellationToken.None);
            cursor = result.NextKeyCursor;
            foreach (var e in result.Messages)
            {
                seen.Add(e.Key!);
            }

            await SettleAsync("r", T0, delivered: [.. result.Messages.Select(e => e.Id)]);
        }

        Assert.Equal(keys.Order(), seen.Order());
    }

    [Fact]
    public async Task Claim_TakeoverAfterLeaseExpiry_ReturnsTheKeyInOrder()
    {
        var messages = Enumerable.Range(0, 5).Select(_ => M("k")).ToList();
        await EnqueueAsync(messages, T0);
        Assert.Equal(messages.Select(m => m.Id), (await ClaimAsync("crashed", 10, T0)).Select(e => e.Id));

        Assert.Empty(await ClaimAsync("r", 10, T0 + Lease - TimeSpan.FromSeconds(1)));
        Assert.Equal(messages.Select(m => m.Id), (await ClaimAsync("r", 10, T0 + Lease + TimeSpan.FromSeconds(1))).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_ReplayedDeadHead_IsClaimedBeforeTheFollowersItHeldBack()
    {
        var (a1, a2, a3) = (M("a"), M("a"), M("a"));
        await EnqueueAsync([a1, a2, a3], T0);
        await ClaimAsync("r", 1, T0);
        await SettleAsync("r", T0, failed: [new DeliveryFailure(a1.Id, "poison", T0, Dead: true)]);
        Assert.Empty(await ClaimAsync("r", 10, T0));

        Assert.Equal(1, await Monitor.ReplayDeadAsync([a1.Id], CancellationToken.None));

        Assert.Equal([a1.Id, a2.Id, a3.Id], (await ClaimAsync("r", 10, T0)).Select(e => e.Id));
    }
}
