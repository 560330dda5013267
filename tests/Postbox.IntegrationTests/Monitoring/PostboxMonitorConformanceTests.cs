using Postbox.Monitoring;

namespace Postbox.IntegrationTests.Monitoring;

/// <summary>
/// What every store's <see cref="IPostboxMonitor"/> must do, run against each store by subclassing: lists page through
/// every row of a state exactly once and only that state, filters hold, counts match and say when they were capped,
/// actions touch only the rows they may.
/// </summary>
public abstract class PostboxMonitorConformanceTests
{
    protected abstract IPostboxMonitor Monitor { get; }

    /// <summary>Writes an outbox row with a stored state (0 ready, 1 delivered, 2 dead, 3 in flight, 4 scheduled).</summary>
    protected abstract Task SeedOutboxAsync(Guid id, int state, string topic, string? key, string? lastError);

    /// <summary>Writes an inbox row (1 processed, 2 retrying, 3 dead), leased or not, with an error history of <paramref name="errors"/> entries.</summary>
    protected abstract Task SeedInboxAsync(Guid id, string consumer, int state, string topic, bool leased, int errors);

    protected abstract Task<int?> OutboxStateAsync(Guid id);

    /// <summary>Makes the topic's ready outbox messages dead again after a later attempt (an hour on), as a relay would.</summary>
    protected abstract Task KillReadyAgainAsync(string topic);

    protected abstract Task<int?> InboxStateAsync(Guid id, string consumer);

    [Fact]
    public async Task List_PagesThroughEveryRowOfTheStateOnce_AndNothingElse()
    {
        var dead = new List<Guid>();
        for (var i = 0; i < 23; i++)
        {
            var id = Guid.CreateVersion7();
            await SeedOutboxAsync(id, 2, i % 2 == 0 ? "a" : "b", "k" + (i % 3), "boom " + i);
            dead.Add(id);
            await SeedOutboxAsync(Guid.CreateVersion7(), i % 3 == 0 ? 0 : i % 3 == 1 ? 1 : 4, "a", null, null); // neighbours in other states
        }

        var seen = new List<Guid>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = await Monitor.ListAsync(new MessageQuery(MessageSide.Outbox, MessageState.Dead, MessageFilter.None, after, Limit: 5), default);
            Assert.All(page.Items, m => Assert.Equal(MessageState.Dead, m.State));
            Assert.True(page.Items.Count == 5 || page.Next is null, "only the last page may be short");
            seen.AddRange(page.Items.Select(m => m.Id));
            after = page.Next;
            pages++;
        }
        while (after is not null);

        Assert.Equal(5, pages);
        Assert.Equal(dead.Count, seen.Count);
        Assert.Equal(Enumerable.Reverse(dead), seen); // newest first, each once

        var filtered = await Monitor.ListAsync(new MessageQuery(MessageSide.Outbox, MessageState.Dead, new MessageFilter(Topic: "a", Key: "k1"), Limit: 50), default);
        Assert.NotEmpty(filtered.Items);
        Assert.All(filtered.Items, m => Assert.True(m.Topic == "a" && m.Key == "k1"));
        Assert.Equal(Enumerable.Range(0, 23).Count(i => i % 2 == 0 && i % 3 == 1), filtered.Items.Count);
    }

    [Fact]
    public async Task InboxLists_SplitRetryingRowsIntoInFlightAndScheduled_AndPageByTime()
    {
        var leased = Guid.CreateVersion7();
        await SeedInboxAsync(leased, "c1", 2, "t", leased: true, errors: 1);
        var waiting = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            var id = Guid.CreateVersion7();
            await SeedInboxAsync(id, i % 2 == 0 ? "c1" : "c2", 2, "t", leased: false, errors: 2);
            waiting.Add(id);
        }

        var inFlight = await Monitor.ListAsync(new MessageQuery(MessageSide.Inbox, MessageState.InFlight, MessageFilter.None), default);
        Assert.Equal([leased], inFlight.Items.Select(m => m.Id));
        var seen = new List<Guid>();
        string? after = null;
        do
        {
            var page = await Monitor.ListAsync(new MessageQuery(MessageSide.Inbox, MessageState.Scheduled, MessageFilter.None, after, Limit: 3), default);
            seen.AddRange(page.Items.Select(m => m.Id));
            after = page.Next;
        }
        while (after is not null);

        Assert.Equal(waiting.Order(), seen.Order());
        var c2 = await Monitor.ListAsync(new MessageQuery(MessageSide.Inbox, MessageState.Scheduled, new MessageFilter(Consumer: "c2")), default);
        Assert.Equal(3, c2.Items.Count);
        Assert.All(c2.Items, m => Assert.Equal("c2", m.Consumer));
    }

    [Fact]
    public async Task Overview_CountsPerGroupAndState_AndSaysWhenCapped()
    {
        for (var i = 0; i < 6; i++)
        {
            await SeedOutboxAsync(Guid.CreateVersion7(), 0, i < 4 ? "mail" : "users", null, null);
        }

        await SeedOutboxAsync(Guid.CreateVersion7(), 2, "mail", null, "x");
        await SeedInboxAsync(Guid.CreateVersion7(), "send", 3, "mail", leased: false, errors: 3);
        await SeedInboxAsync(Guid.CreateVersion7(), "send", 1, "mail", leased: false, errors: 0);

        var outbox = await Monitor.GetOverviewAsync(MessageSide.Outbox, 100, default);
        Assert.Equal(new StateTotal(MessageState.Ready, 6, false), outbox.Totals.Single(t => t.State == MessageState.Ready));
        Assert.Equal(new StateTotal(MessageState.Dead, 1, false), outbox.Totals.Single(t => t.State == MessageState.Dead));
        Assert.Equal(4, outbox.Groups.Single(g => g.Name == "mail" && g.State == MessageState.Ready).Count);
        Assert.Equal(2, outbox.Groups.Single(g => g.Name == "users" && g.State == MessageState.Ready).Count);
        Assert.NotNull(outbox.OldestPendingAt);

        var capped = await Monitor.GetOverviewAsync(MessageSide.Outbox, 5, default);
        Assert.Equal(new StateTotal(MessageState.Ready, 5, true), capped.Totals.Single(t => t.State == MessageState.Ready));
        var exact = await Monitor.GetOverviewAsync(MessageSide.Outbox, 6, default);
        Assert.Equal(new StateTotal(MessageState.Ready, 6, false), exact.Totals.Single(t => t.State == MessageState.Ready));

        var inbox = await Monitor.GetOverviewAsync(MessageSide.Inbox, 100, default);
        Assert.Equal(1, inbox.Totals.Single(t => t.State == MessageState.Dead).Count);
        Assert.Equal(1, inbox.Totals.Single(t => t.State == MessageState.Done).Count);
        Assert.Null(inbox.OldestPendingAt);
    }

    [Fact]
    public async Task Get_ReturnsHeadersPayloadAndErrorHistory()
    {
        var outboxId = Guid.CreateVersion7();
        await SeedOutboxAsync(outboxId, 2, "mail", "k", "last words");
        var outbox = await Monitor.GetAsync(MessageSide.Outbox, new MessageRef(outboxId), default);
        Assert.NotNull(outbox);
        Assert.Equal("acme", outbox.Headers["tenant"]);
        Assert.Equal("{\"n\":1}", System.Text.Encoding.UTF8.GetString(outbox.Payload.Span));
        Assert.Equal(7, outbox.PayloadLength);
        Assert.Equal("last words", Assert.Single(outbox.Errors).Error);

        var inboxId = Guid.CreateVersion7();
        await SeedInboxAsync(inboxId, "send", 3, "mail", leased: false, errors: 3);
        var inbox = await Monitor.GetAsync(MessageSide.Inbox, new MessageRef(inboxId, "send"), default);
        Assert.NotNull(inbox);
        Assert.Equal([1, 2, 3], inbox.Errors.Select(e => e.Attempt));
        Assert.Equal("error 3", inbox.Summary.LastError);
        Assert.Null(await Monitor.GetAsync(MessageSide.Inbox, new MessageRef(inboxId, "other"), default));
        Assert.Null(await Monitor.GetAsync(MessageSide.Outbox, new MessageRef(Guid.CreateVersion7()), default));
        Assert.Single(await Monitor.FindAsync(MessageSide.Inbox, inboxId, default));
    }

    [Fact]
    public async Task Actions_TouchOnlyTheRowsTheyMay()
    {
        Guid Id() => Guid.CreateVersion7();
        var (ready, delivered, dead, inFlight, scheduled) = (Id(), Id(), Id(), Id(), Id());
        await SeedOutboxAsync(ready, 0, "t", null, null);
        await SeedOutboxAsync(delivered, 1, "t", null, null);
        await SeedOutboxAsync(dead, 2, "t", null, "x");
        await SeedOutboxAsync(inFlight, 3, "t", null, null);
        await SeedOutboxAsync(scheduled, 4, "t", null, "y");
        MessageRef[] all = [new(ready), new(delivered), new(dead), new(inFlight), new(scheduled)];

        Assert.Equal(1, await Monitor.RetryNowAsync(MessageSide.Outbox, all, default));
        Assert.Equal(4, await OutboxStateAsync(scheduled)); // still scheduled, but due now
        Assert.Equal(1, await Monitor.ReplayDeadAsync(MessageSide.Outbox, all, default));
        Assert.Equal(0, await OutboxStateAsync(dead));
        Assert.Equal(3, await Monitor.DeleteAsync(MessageSide.Outbox, all, default)); // ready, the replayed one (ready now), scheduled
        Assert.Equal(3, await OutboxStateAsync(inFlight));
        Assert.Equal(1, await OutboxStateAsync(delivered));

        var (iDead, iProcessed, iLeased, iWaiting) = (Id(), Id(), Id(), Id());
        await SeedInboxAsync(iDead, "c", 3, "t", leased: false, errors: 2);
        await SeedInboxAsync(iProcessed, "c", 1, "t", leased: false, errors: 0);
        await SeedInboxAsync(iLeased, "c", 2, "t", leased: true, errors: 1);
        await SeedInboxAsync(iWaiting, "c", 2, "t", leased: false, errors: 1);
        MessageRef[] inbox = [new(iDead, "c"), new(iProcessed, "c"), new(iLeased, "c"), new(iWaiting, "c"), new(iDead, "wrong-consumer")];
        Assert.Equal(1, await Monitor.RetryNowAsync(MessageSide.Inbox, inbox, default));
        Assert.Equal(1, await Monitor.ReplayDeadAsync(MessageSide.Inbox, inbox, default));
        Assert.Equal(2, await InboxStateAsync(iDead, "c"));
        var replayed = await Monitor.GetAsync(MessageSide.Inbox, new MessageRef(iDead, "c"), default);
        Assert.Equal(2, replayed!.Errors.Count); // the history survives the replay
        Assert.Equal(1, replayed.Replays);
        Assert.Equal(2, await Monitor.DeleteAsync(MessageSide.Inbox, inbox, default)); // the replayed one and the waiting one
        Assert.Equal(1, await InboxStateAsync(iProcessed, "c"));
        Assert.Equal(2, await InboxStateAsync(iLeased, "c"));
        Assert.Null(await InboxStateAsync(iDead, "c"));
    }

    [Fact]
    public async Task ReplayAllDead_ReplaysEveryMatchingDeadRowInBatches()
    {
        for (var i = 0; i < 1_205; i++)
        {
            await SeedOutboxAsync(Guid.CreateVersion7(), 2, i < 1_203 ? "bulk" : "other", null, "x");
        }

        var progress = new List<int>();
        var count = await Monitor.ReplayAllDeadAsync(MessageSide.Outbox, new MessageFilter(Topic: "bulk"), new SyncProgress(progress), default);
        Assert.Equal(1_203, count);
        Assert.Equal([1_000, 1_203], progress);
        var left = await Monitor.ListAsync(new MessageQuery(MessageSide.Outbox, MessageState.Dead, MessageFilter.None), default);
        Assert.Equal(2, left.Items.Count);
        Assert.All(left.Items, m => Assert.Equal("other", m.Topic));
    }

    [Fact]
    public async Task ReplayAllDead_AMessageThatDiesAgainDuringTheCall_IsNotReplayedTwice_TheCallEnds()
    {
        for (var i = 0; i < 1_203; i++)
        {
            await SeedOutboxAsync(Guid.CreateVersion7(), 2, "bulk", null, "x");
        }

        // After the first batch, every replayed message dies again at once (a relay with one attempt and a broker that
        // refuses it). Before the bound, the next batches took them again: 2,203 "replayed", and with a failure as fast
        // as the batches the call would not end.
        var progress = new List<int>();
        var killed = false;
        var count = await Monitor.ReplayAllDeadAsync(MessageSide.Outbox, new MessageFilter(Topic: "bulk"), new SyncProgress(progress, () =>
        {
            if (!killed)
            {
                killed = true;
                KillReadyAgainAsync("bulk").GetAwaiter().GetResult();
            }
        }), default);
        Assert.Equal(1_203, count);
        Assert.Equal([1_000, 1_203], progress);
        // The ones that died again are dead, and a new call replays them.
        Assert.Equal(1_000, await Monitor.ReplayAllDeadAsync(MessageSide.Outbox, new MessageFilter(Topic: "bulk"), null, default));
    }

    [Fact]
    public async Task List_WithACursorOfAnotherList_IsRefused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() =>
            Monitor.ListAsync(new MessageQuery(MessageSide.Inbox, MessageState.Dead, MessageFilter.None, After: "12345"), default));
        await Assert.ThrowsAsync<ArgumentException>(() =>
            Monitor.ListAsync(new MessageQuery(MessageSide.Outbox, MessageState.Dead, MessageFilter.None, After: "1.2"), default));
    }

    private sealed class SyncProgress(List<int> values, Action? then = null) : IProgress<int>
    {
        public void Report(int value)
        {
            values.Add(value);
            then?.Invoke();
        }
    }
}
