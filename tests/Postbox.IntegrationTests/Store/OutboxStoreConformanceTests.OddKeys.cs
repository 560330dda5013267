using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

/// <summary>Review (rev8): keys compared byte-exactly whatever the collation, at batch sizes 1 to large; delays never reorder a key.</summary>
public abstract partial class OutboxStoreConformanceTests
{
    private static readonly string[] OddKeys =
    [
        "a", "A", "a ", " a", "á", "a\u0301", "😀", "😀a", "ß", "ss", "\u00A0x", "x\u200B", "Z", "z", "~", "a.b", "\uFFFF", "\uE000", "é", "e\u0301",
        "k", "K", "k ", "İ", "i", "ı", "I",
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public async Task Claim_KeysThatDifferOnlyByCaseAccentSpaceOrNormalization_DrainInPerKeyOrder_EachOnce(int batch)
    {
        var messages = new List<OutboxMessage>();
        for (var round = 0; round < 5; round++)
        {
            foreach (var key in OddKeys)
            {
                messages.Add(M(key));
            }

            messages.Add(M());
        }

        await EnqueueAsync(messages, T0);
        var seen = new List<OutboxEnvelope>();
        string? cursor = null;
        for (var i = 0; i < 2000 && seen.Count < messages.Count; i++)
        {
            var result = await Store.ClaimAsync(new ClaimRequest("r", batch, T0, T0 + Lease, true, cursor), CancellationToken.None);
            cursor = result.NextKeyCursor;
            seen.AddRange(result.Messages);
            if (result.Messages.Count > 0)
            {
                await SettleAsync("r", T0, delivered: [.. result.Messages.Select(m => m.Id)]);
            }
        }

        Assert.Equal(messages.Count, seen.Count);
        Assert.Equal(messages.Count, seen.Select(s => s.Id).Distinct().Count());
        foreach (var key in OddKeys)
        {
            Assert.Equal(messages.Where(m => m.Key == key).Select(m => m.Id), seen.Where(s => s.Key == key).Select(s => s.Id));
        }
    }

    [Fact]
    public async Task Claim_DelayedFollowerDueBeforeItsDelayedHead_NeverOvertakesIt()
    {
        var head = M("k", T0 + TimeSpan.FromHours(2));
        var follower = M("k", T0 + TimeSpan.FromHours(1));
        var third = M("k");
        await EnqueueAsync([head, follower, third], T0);
        Assert.Empty(await ClaimLikeRelayAsync("r", 10, T0 + TimeSpan.FromMinutes(90)));
        var all = await ClaimLikeRelayAsync("r", 10, T0 + TimeSpan.FromHours(3));
        Assert.Equal([head.Id, follower.Id, third.Id], all.Select(e => e.Id));
    }
}
