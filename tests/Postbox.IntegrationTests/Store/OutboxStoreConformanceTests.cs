using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

/// <summary>The behaviour every store must have. Each provider runs this suite through a subclass.</summary>
public abstract partial class OutboxStoreConformanceTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    protected static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    protected abstract IOutboxStore Store { get; }

    protected abstract IOutboxMonitor Monitor { get; }

    protected abstract Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now);

    /// <summary>(state, attempts, last error) of a stored message, or null when it is gone. States: 0 ready, 1 delivered, 2 dead, 3 in flight, 4 scheduled.</summary>
    protected abstract Task<(int State, int Attempts, string? LastError)?> GetRowAsync(Guid id);

    protected abstract Task<long> CountAsync();

    private static OutboxMessage M(string? key = null, DateTimeOffset? at = null) =>
        new("orders", "{}"u8.ToArray()) { Key = key, AvailableAt = at };

    private async Task<IReadOnlyList<OutboxEnvelope>> ClaimAsync(string owner, int batch, DateTimeOffset now, bool block = true) =>
        (await Store.ClaimAsync(new ClaimRequest(owner, batch, now, now + Lease, block), CancellationToken.None)).Messages;

    private Task<int> SettleAsync(string owner, DateTimeOffset now, Guid[]? delivered = null, DeliveryFailure[]? failed = null, Guid[]? released = null, bool delete = false) =>
        Store.SettleAsync(new SettleRequest(owner, now, delivered ?? [], failed ?? [], released ?? [], delete), CancellationToken.None);

    [Fact]
    public async Task Claim_ReturnsReadyMessagesInEnqueueOrder_UpToBatchSize()
    {
        var messages = Enumerable.Range(0, 10).Select(_ => M()).ToList();
        await EnqueueAsync(messages, T0);

        var first = await ClaimAsync("a", 4, T0);
        var second = await ClaimAsync("a", 100, T0);

        Assert.Equal(messages.Take(4).Select(m => m.Id), first.Select(e => e.Id));
        Assert.Equal(messages.Skip(4).Select(m => m.Id), second.Select(e => e.Id));
        Assert.All(first.Concat(second), e => Assert.Equal(0, e.Attempts));
        Assert.Empty(await ClaimAsync("b", 100, T0));
    }

    [Fact]
    public async Task Claim_CarriesEveryMessageField()
    {
        var message = new OutboxMessage("billing", new byte[] { 1, 2, 3 }) { Key = "k1", Type = "InvoiceIssued", MaxAttempts = 7 };
        message.Headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        message.Headers["x-tenant"] = "acme";
        await EnqueueAsync([message], T0);

        var claimed = Assert.Single(await ClaimAsync("a", 10, T0));

        Assert.Equal(message.Id, claimed.Id);
        Assert.Equal("billing", claimed.Topic);
        Assert.Equal("k1", claimed.Key);
        Assert.Equal("InvoiceIssued", claimed.Type);
        Assert.Equal(new byte[] { 1, 2, 3 }, claimed.Payload.ToArray());
        Assert.Equal("acme", claimed.Headers["x-tenant"]);
        Assert.Equal(message.Headers["traceparent"], claimed.Headers["traceparent"]);
        Assert.Equal(7, claimed.MaxAttempts);
        Assert.Equal(T0, claimed.CreatedAt);
    }

    [Fact]
    public async Task Claim_LeasedMessage_IsTakenOverOnlyAfterTheLeaseExpires_AndTheOldOwnerCannotSettleIt()
    {
        var message = M();
        await EnqueueAsync([message], T0);
        Assert.Single(await ClaimAsync("dead-relay", 10, T0));

        Assert.Empty(await ClaimAsync("b", 10, T0 + Lease - TimeSpan.FromSeconds(1)));
        var takenOver = Assert.Single(await ClaimAsync("b", 10, T0 + Lease + TimeSpan.FromSeconds(1)));
        Assert.Equal(message.Id, takenOver.Id);

        Assert.Equal(0, await SettleAsync("dead-relay", T0 + Lease, delivered: [message.Id]));
        Assert.Equal(3, (await GetRowAsync(message.Id))!.Value.State);
        Assert.Equal(1, await SettleAsync("b", T0 + Lease, delivered: [message.Id]));
        Assert.Equal(1, (await GetRowAsync(message.Id))!.Value.State);
    }

    [Fact]
    public async Task Settle_Failure_CountsTheAttempt_KeepsTheError_AndHonoursTheBackoff()
    {
        var message = M();
        await EnqueueAsync([message], T0);
        await ClaimAsync("a", 10, T0);
        var retryAt = T0 + TimeSpan.FromMinutes(5);

        Assert.Equal(1, await SettleAsync("a", T0, failed: [new DeliveryFailure(message.Id, "broker said no", retryAt, Dead: false)]));

        var row = (await GetRowAsync(message.Id))!.Value;
        Assert.Equal((4, 1, "broker said no"), (row.State, row.Attempts, row.LastError));
        Assert.Empty(await ClaimAsync("a", 10, retryAt - TimeSpan.FromSeconds(1)));
        var retried = Assert.Single(await ClaimAsync("a", 10, retryAt));
        Assert.Equal(1, retried.Attempts);
    }

    [Fact]
    public async Task Settle_Delivered_ClearsTheLastError()
    {
        var message = M();
        await EnqueueAsync([message], T0);
        await ClaimAsync("a", 10, T0);
        await SettleAsync("a", T0, failed: [new DeliveryFailure(message.Id, "boom", T0, Dead: false)]);
        await ClaimAsync("a", 10, T0);

        await SettleAsync("a", T0, delivered: [message.Id]);

        Assert.Equal((1, 2, (string?)null), (await GetRowAsync(message.Id))!.Value);
    }

    [Fact]
    public async Task Settle_Dead_KeepsTheMessage_AndIsNeverClaimedAgain()
    {
        var message = M();
        await EnqueueAsync([message], T0);
        await ClaimAsync("a", 10, T0);

        await SettleAsync("a", T0, failed: [new DeliveryFailure(message.Id, "poison", T0, Dead: true)]);

        Assert.Equal((2, 1, "poison"), (await GetRowAsync(message.Id))!.Value);
        Assert.Empty(await ClaimAsync("a", 10, T0 + TimeSpan.FromDays(30)));
    }

    [Fact]
    public async Task Claim_KeyedMessage_WaitsWhileAnEarlierMessageOfItsKeyIsInFlight()
    {
        var (a1, a2, b1) = (M("a"), M("a"), M("b"));
        await EnqueueAsync([a1], T0);
        Assert.Single(await ClaimAsync("r1", 10, T0));
        await EnqueueAsync([a2, b1], T0);

        var claimed = await ClaimAsync("r2", 10, T0);

        Assert.Equal([b1.Id], claimed.Select(e => e.Id));
        await SettleAsync("r1", T0, delivered: [a1.Id]);
        Assert.Equal([a2.Id], (await ClaimAsync("r2", 10, T0)).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_KeyedMessages_OfOneKey_AreClaimedTogetherInOrder()
    {
        var messages = Enumerable.Range(0, 5).Select(_ => M("k")).ToList();
        await EnqueueAsync(messages, T0);

        Assert.Equal(messages.Select(m => m.Id), (await ClaimAsync("a", 10, T0)).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_KeyWaitingForRetry_HoldsBackItsLaterMessages_ButNotOtherKeys()
    {
        var (a1, a2, b1) = (M("a"), M("a"), M("b"));
        await EnqueueAsync([a1, a2, b1], T0);
        await ClaimAsync("r", 10, T0);
        var retryAt = T0 + TimeSpan.FromMinutes(1);
        await SettleAsync("r", T0, failed: [new DeliveryFailure(a1.Id, "nope", retryAt, false)], released: [a2.Id], delivered: [b1.Id]);

        Assert.Equal((0, 0, (string?)null), (await GetRowAsync(a2.Id))!.Value);
        Assert.Empty(await ClaimAsync("r", 10, T0 + TimeSpan.FromSeconds(30)));
        Assert.Equal([a1.Id, a2.Id], (await ClaimAsync("r", 10, retryAt)).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_DeadMessage_BlocksItsKeyUnderBlockPolicy_AndNotUnderSkip()
    {
        var (a1, a2) = (M("a"), M("a"));
        await EnqueueAsync([a1, a2], T0);
        await ClaimAsync("r", 10, T0);
        await SettleAsync("r", T0, failed: [new DeliveryFailure(a1.Id, "poison", T0, Dead: true)], released: [a2.Id]);

        Assert.Empty(await ClaimAsync("r", 10, T0, block: true));
        Assert.Equal([a2.Id], (await ClaimAsync("r", 10, T0, block: false)).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_DelayedMessage_IsNotClaimedBeforeItsTime()
    {
        var later = M(at: T0 + TimeSpan.FromMinutes(10));
        var now = M();
        await EnqueueAsync([later, now], T0);

        Assert.Equal([now.Id], (await ClaimAsync("r", 10, T0)).Select(e => e.Id));
        await SettleAsync("r", T0, delivered: [now.Id]);
        Assert.Empty(await ClaimAsync("r", 10, T0 + TimeSpan.FromMinutes(9)));
        Assert.Equal([later.Id], (await ClaimAsync("r", 10, T0 + TimeSpan.FromMinutes(10))).Select(e => e.Id));
    }

    [Fact]
    public async Task Settle_DeleteDelivered_RemovesTheRows()
    {
        var message = M();
        await EnqueueAsync([message], T0);
        await ClaimAsync("r", 10, T0);

        Assert.Equal(1, await SettleAsync("r", T0, delivered: [message.Id], delete: true));
        Assert.Null(await GetRowAsync(message.Id));
    }

    [Fact]
    public async Task Purge_DeletesOnlyDeliveredMessagesPastRetention_InBoundedBatches()
    {
        var delivered = Enumerable.Range(0, 25).Select(_ => M()).ToList();
        var recent = M();
        var dead = M();
        var pending = M();
        var scheduled = M(at: T0 + TimeSpan.FromDays(1));
        await EnqueueAsync([.. delivered, recent, dead], T0);
        await ClaimAsync("r", 100, T0);
        await SettleAsync("r", T0, delivered: [.. delivered.Select(m => m.Id)], failed: [new DeliveryFailure(dead.Id, "x", T0, true)]);
        await SettleAsync("r", T0 + TimeSpan.FromHours(2), delivered: [recent.Id]);
        await EnqueueAsync([pending, scheduled], T0);
        var cutoff = T0 + TimeSpan.FromHours(1);

        Assert.Equal(10, await Store.PurgeDeliveredAsync(cutoff, 10, CancellationToken.None));
        Assert.Equal(10, await Store.PurgeDeliveredAsync(cutoff, 10, CancellationToken.None));
        Assert.Equal(5, await Store.PurgeDeliveredAsync(cutoff, 10, CancellationToken.None));
        Assert.Equal(0, await Store.PurgeDeliveredAsync(cutoff, 10, CancellationToken.None));

        Assert.Equal(4, await CountAsync());
        foreach (var kept in new[] { recent, dead, pending, scheduled })
        {
            Assert.NotNull(await GetRowAsync(kept.Id));
        }
    }

    [Fact]
    public async Task GetOldestPending_ReportsTheOldestUndeliveredMessage()
    {
        Assert.Null(await Store.GetOldestPendingAsync(CancellationToken.None));
        var first = M();
        await EnqueueAsync([first], T0);
        await EnqueueAsync([M()], T0 + TimeSpan.FromMinutes(1));

        Assert.Equal(T0, await Store.GetOldestPendingAsync(CancellationToken.None));
        await ClaimAsync("r", 1, T0);
        await SettleAsync("r", T0, delivered: [first.Id]);
        Assert.Equal(T0 + TimeSpan.FromMinutes(1), await Store.GetOldestPendingAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Monitor_ListsDeadMessages_AndReplayMakesThemDeliverableAgain()
    {
        var (poison, fine, pending) = (M("a"), M(), M());
        await EnqueueAsync([poison, fine], T0);
        await ClaimAsync("r", 10, T0);
        await SettleAsync("r", T0, failed: [new DeliveryFailure(poison.Id, "no route", T0, Dead: true)], delivered: [fine.Id]);
        await EnqueueAsync([pending], T0);

        var dead = Assert.Single(await Monitor.ListDeadAsync(100, CancellationToken.None));
        Assert.Equal((poison.Id, "orders", "a", 1, "no route"), (dead.Id, dead.Topic, dead.Key, dead.Attempts, dead.LastError));
        Assert.Equal(new OutboxStatistics(Ready: 1, InFlight: 0, Scheduled: 0, Delivered: 1, Dead: 1, T0), await Monitor.GetStatisticsAsync(CancellationToken.None));

        Assert.Equal(1, await Monitor.ReplayDeadAsync([poison.Id, fine.Id], CancellationToken.None));

        Assert.Equal([poison.Id, pending.Id], (await ClaimAsync("r", 10, T0)).Select(e => e.Id));
        Assert.Equal(0, (await GetRowAsync(poison.Id))!.Value.Attempts);
        Assert.Empty(await Monitor.ListDeadAsync(100, CancellationToken.None));
    }
}
