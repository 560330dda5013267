namespace Postbox.IntegrationTests.Store;

/// <summary>
/// A key's run of claimable messages stops at its first message that is not claimable: a later ready message of the key
/// must never be claimed past an earlier one that is delayed or in flight (found missing while writing the MySQL store:
/// dropping the stop from a store's claim broke no other test).
/// </summary>
public abstract partial class OutboxStoreConformanceTests
{
    [Fact]
    public async Task Claim_KeyedRun_StopsAtADelayedMessage_EvenThoughLaterOnesAreReady()
    {
        var (k1, k2, k3) = (M("k"), M("k", T0 + TimeSpan.FromHours(1)), M("k"));
        await EnqueueAsync([k1, k2, k3], T0);

        Assert.Equal([k1.Id], (await ClaimAsync("r", 10, T0)).Select(e => e.Id));
        await SettleAsync("r", T0, delivered: [k1.Id]);
        Assert.Empty(await ClaimAsync("r", 10, T0 + TimeSpan.FromMinutes(59)));
        Assert.Equal([k2.Id, k3.Id], (await ClaimAsync("r", 10, T0 + TimeSpan.FromHours(1))).Select(e => e.Id));
    }

    [Fact]
    public async Task Claim_KeyedRun_StopsAtAMessageInFlight_EvenThoughLaterOnesAreReady()
    {
        var (k1, k2) = (M("k"), M("k"));
        await EnqueueAsync([k1, k2], T0);
        Assert.Equal([k1.Id, k2.Id], (await ClaimAsync("r1", 10, T0)).Select(e => e.Id));
        // k1 handed back while k2 is still in flight with r1; then k3 arrives: the key's run is k1 alone.
        await SettleAsync("r1", T0, released: [k1.Id]);
        var k3 = M("k");
        await EnqueueAsync([k3], T0);

        Assert.Equal([k1.Id], (await ClaimAsync("r2", 10, T0 + TimeSpan.FromSeconds(1))).Select(e => e.Id));
        await SettleAsync("r1", T0, delivered: [k2.Id]);
        await SettleAsync("r2", T0, delivered: [k1.Id]);
        Assert.Equal([k3.Id], (await ClaimAsync("r3", 10, T0 + TimeSpan.FromSeconds(2))).Select(e => e.Id));
    }
}
