using System.Data.Common;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Postbox.Hosting;
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

    /// <summary>Adds this store to a Postbox registration, so the suite can enqueue through <see cref="IOutbox"/> as an application does.</summary>
    protected abstract void UseStore(PostboxBuilder postbox);

    /// <summary>Opens a connection to the store's database, for a business transaction of the test's own.</summary>
    protected abstract Task<DbConnection> OpenConnectionAsync();

    /// <summary>The name (qualified as the store needs) of a table the suite may create for its business rows.</summary>
    protected abstract string BusinessTable { get; }

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

    // ---- Values and ids: what enqueue refuses, what it normalises, and that the caller's transaction survives. ----
    // These go through IOutbox with a business row in the same transaction, as an application does: a value the
    // database refused would abort that transaction (PostgreSQL 25P02), so the rule is "refused before any statement".

    /// <summary>The payload limit the suite configures, so the size rule is tried without megabytes.</summary>
    protected const int PayloadLimit = 1024;

    /// <summary>The enqueue clock: <see cref="T0"/> as a host nine hours east of UTC would give it.</summary>
    private static readonly DateTimeOffset T0InTokyo = T0.ToOffset(TimeSpan.FromHours(9));

    /// <summary>A Postbox registration with this store, the relay off, <see cref="PayloadLimit"/> and a clock fixed at <see cref="T0"/>.</summary>
    protected ServiceProvider CreatePostbox()
    {
        var services = new ServiceCollection();
        // A clock that answers with an offset (as a TimeProvider may): every store must still hold UTC.
        services.AddSingleton<TimeProvider>(new FixedClock(T0InTokyo));
        var postbox = services.AddPostbox(o =>
        {
            o.Relay.Enabled = false;
            o.MaxPayloadBytes = PayloadLimit;
        });
        UseStore(postbox);
        return services.BuildServiceProvider();
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Creates the business table (once per test) and returns an open connection.</summary>
    protected async Task<DbConnection> OpenBusinessConnectionAsync()
    {
        var connection = await OpenConnectionAsync();
        await ExecuteAsync(connection, null, $"CREATE TABLE IF NOT EXISTS {BusinessTable} (id VARCHAR(64) NOT NULL PRIMARY KEY)");
        return connection;
    }

    protected Task InsertBusinessRowAsync(DbConnection connection, DbTransaction transaction, string id) =>
        ExecuteAsync(connection, transaction, $"INSERT INTO {BusinessTable} (id) VALUES ('{id}')");

    protected async Task<List<string>> BusinessRowsAsync()
    {
        await using var connection = await OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT id FROM {BusinessTable} ORDER BY id";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    /// <summary>
    /// Enqueues <paramref name="refused"/> (alone, or second in a bulk call) between two business rows and expects an
    /// <see cref="ArgumentException"/> naming the message and <paramref name="field"/>; then enqueues a valid message in
    /// the same transaction and commits. Both business rows and only the valid message must be there.
    /// </summary>
    private async Task AssertRefusedAndTransactionCommitsAsync(OutboxMessage refused, string field, bool bulk)
    {
        await using var provider = CreatePostbox();
        var outbox = provider.GetRequiredService<IOutbox>();
        var fine = M();
        var valid = M();
        var (before, after) = ($"before-{valid.Id:N}", $"after-{valid.Id:N}");
        var stored = await CountAsync();
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await InsertBusinessRowAsync(connection, transaction, before);

            var error = bulk
                ? await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, [fine, refused]))
                : await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, refused));

            Assert.Contains(bulk ? "Message #1" : "Message #0", error.Message, StringComparison.Ordinal);
            Assert.Contains(refused.Id.ToString(), error.Message, StringComparison.Ordinal);
            Assert.Contains(field, error.Message, StringComparison.Ordinal);

            // The transaction is still usable: more business work, a valid message, and the commit.
            await InsertBusinessRowAsync(connection, transaction, after);
            Assert.True(await outbox.EnqueueAsync(transaction, valid));
            await transaction.CommitAsync();
        }

        var rows = await BusinessRowsAsync();
        Assert.Contains(before, rows);
        Assert.Contains(after, rows);
        Assert.Equal(stored + 1, await CountAsync());
        Assert.Null(await GetRowAsync(refused.Id));
        Assert.Null(await GetRowAsync(fine.Id));
        Assert.Equal([valid.Id], (await ClaimAsync("r", 10, T0)).Select(e => e.Id));
    }

    /// <summary>A message with <paramref name="text"/> in <paramref name="field"/>; the rest is valid.</summary>
    private static OutboxMessage WithText(string field, string text)
    {
        var payload = "{}"u8.ToArray();
        var message = field switch
        {
            "Topic" => new OutboxMessage(text, payload),
            "Key" => new OutboxMessage("orders", payload) { Key = text },
            "Type" => new OutboxMessage("orders", payload) { Type = text },
            _ => new OutboxMessage("orders", payload),
        };
        if (field == "Header name")
        {
            message.Headers[text] = "v";
        }
        else if (field == "Header 'x-h' value")
        {
            message.Headers["x-h"] = text;
        }

        return message;
    }

    [Theory]
    [InlineData("Topic", false)]
    [InlineData("Key", false)]
    [InlineData("Type", false)]
    [InlineData("Header name", false)]
    [InlineData("Header 'x-h' value", false)]
    [InlineData("Topic", true)]
    [InlineData("Key", true)]
    [InlineData("Type", true)]
    [InlineData("Header name", true)]
    [InlineData("Header 'x-h' value", true)]
    public Task Enqueue_NulInAnyField_IsRefused_AndTheCallersTransactionStillCommits(string field, bool bulk) =>
        AssertRefusedAndTransactionCommitsAsync(WithText(field, "a\0b"), field, bulk);

    // Theory texts are written escaped (\uXXXX) so that test names stay printable, valid Unicode.
    private static string Unescape(string escaped) => System.Text.RegularExpressions.Regex.Unescape(escaped);

    [Theory]
    [InlineData("Topic", @"a\uD800b")]
    [InlineData("Key", @"a\uD800")]
    [InlineData("Type", @"\uDC00a")]
    [InlineData("Header name", @"x-\uDE00\uD83D")]
    [InlineData("Header 'x-h' value", @"\uD83D")]
    [InlineData("Header 'x-h' value", @"ok \uDE00 then")]
    [InlineData("Key", @"\uD83D\uDE00\uDE00")]
    public Task Enqueue_UnpairedSurrogateInAnyField_IsRefused_AndTheCallersTransactionStillCommits(string field, string text) =>
        AssertRefusedAndTransactionCommitsAsync(WithText(field, Unescape(text)), field, bulk: false);

    [Theory]
    [InlineData("Topic", @"orders\n")]
    [InlineData("Topic", @"a\u0001b")]
    [InlineData("Key", @"k\tk")]
    [InlineData("Key", @"k\u007F")]
    [InlineData("Type", @"T\r\nX-Injected: 1")]
    [InlineData("Type", @"T\u0085")]
    [InlineData("Header name", @"x-\u001Fh")]
    [InlineData("Header name", @"x\ny")]
    public Task Enqueue_ControlCharacterInANameOrKey_IsRefused(string field, string text) =>
        AssertRefusedAndTransactionCommitsAsync(WithText(field, Unescape(text)), field, bulk: true);

    [Theory]
    [InlineData("Topic", " orders")]
    [InlineData("Topic", "orders ")]
    [InlineData("Type", @"Invoice\u00A0")]
    [InlineData("Type", "   ")]
    [InlineData("Header name", " x-h")]
    public Task Enqueue_NameBeginningOrEndingWithWhiteSpace_IsRefused(string field, string text) =>
        AssertRefusedAndTransactionCommitsAsync(WithText(field, Unescape(text)), field, bulk: false);

    [Theory]
    [InlineData("Topic", 256)]
    [InlineData("Key", 256)]
    [InlineData("Type", 256)]
    [InlineData("Header name", 256)]
    [InlineData("Key", 0)]
    [InlineData("Type", 0)]
    [InlineData("Header name", 0)]
    public Task Enqueue_NameOrKeyOutsideOneTo255Characters_IsRefused(string field, int length) =>
        AssertRefusedAndTransactionCommitsAsync(WithText(field, new string('n', length)), field.Split(' ')[0], bulk: false);

    [Fact]
    public async Task Enqueue_OtherUnstorableValues_AreRefused_AndTheCallersTransactionStillCommits()
    {
        await AssertRefusedAndTransactionCommitsAsync(new OutboxMessage("orders", new byte[PayloadLimit + 1]), "Payload", bulk: true);
        await AssertRefusedAndTransactionCommitsAsync(new OutboxMessage("orders", new byte[1]) { MaxAttempts = 0 }, "MaxAttempts", bulk: false);
        await AssertRefusedAndTransactionCommitsAsync(new OutboxMessage("orders", new byte[1]) { MaxAttempts = -1 }, "MaxAttempts", bulk: true);
        await AssertRefusedAndTransactionCommitsAsync(new OutboxMessage("orders", new byte[1]) { AvailableAt = DateTimeOffset.MaxValue }, "AvailableAt", bulk: false);
        await AssertRefusedAndTransactionCommitsAsync(
            new OutboxMessage("orders", new byte[1]) { AvailableAt = new DateTimeOffset(9999, 12, 31, 9, 0, 0, TimeSpan.FromHours(9)) }, "AvailableAt", bulk: true);
    }

    [Fact]
    public async Task Enqueue_EmptyId_IsRefused()
    {
        await using var provider = CreatePostbox();
        await using var connection = await OpenBusinessConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            provider.GetRequiredService<IOutbox>().EnqueueAsync(transaction, new OutboxMessage("orders", new byte[1]) { Id = Guid.Empty }));

        Assert.Contains("Id must not be empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enqueue_EveryStorableText_RoundTripsExactly()
    {
        // The edges of what is accepted: non-BMP characters (surrogate pairs; MySQL needs utf8mb4), control characters
        // and white space in header values, inner and trailing white space in a key (MySQL's PAD SPACE collations
        // would drop it), an empty header value, and 255-character names made of 2-character code points.
        var longKey = string.Concat(Enumerable.Repeat("😀", 127)) + "k";
        var message = new OutboxMessage("orders.ünïcödé.😀", "{\"a\":\"\\u0000\"}"u8.ToArray()) { Key = longKey, Type = "Rechnung · 請求書 😀" };
        message.Headers["x-tabs-and-lines"] = "a\tb\r\nc\u0001\u007F\u0085 end ";
        message.Headers["x-empty"] = "";
        message.Headers["x-emoji-😀"] = "😀 \uFFFD \uFEFF";
        message.Headers[new string('h', 255)] = "long name";
        var spaced = new OutboxMessage("orders", new byte[] { 0, 0xFF, 0 }) { Key = " k k " };

        await using (var provider = CreatePostbox())
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.Equal(2, await provider.GetRequiredService<IOutbox>().EnqueueAsync(transaction, [message, spaced]));
            await transaction.CommitAsync();
        }

        var claimed = await ClaimAsync("r", 10, T0);
        Assert.Equal([message.Id, spaced.Id], claimed.Select(e => e.Id));
        var (first, second) = (claimed[0], claimed[1]);
        Assert.Equal(message.Topic, first.Topic);
        Assert.Equal(longKey, first.Key);
        Assert.Equal(message.Type, first.Type);
        Assert.Equal(message.Payload.ToArray(), first.Payload.ToArray());
        Assert.Equal(message.Headers.OrderBy(h => h.Key, StringComparer.Ordinal), first.Headers.OrderBy(h => h.Key, StringComparer.Ordinal));
        Assert.Equal(" k k ", second.Key);
        Assert.Equal(new byte[] { 0, 0xFF, 0 }, second.Payload.ToArray());
    }

    [Fact]
    public async Task Claim_KeysDifferingOnlyInCaseOrTrailingWhiteSpace_AreDifferentKeys()
    {
        var (k, upper, trailing, k2) = (M("k"), M("K"), M("k "), M("k"));
        await EnqueueAsync([k], T0);
        Assert.Equal([k.Id], (await ClaimAsync("r", 1, T0)).Select(e => e.Id));
        await EnqueueAsync([upper, trailing, k2], T0);

        // With "k" in flight only its own follower waits (a case-insensitive or PAD SPACE comparison would hold all three).
        Assert.Equal([upper.Id, trailing.Id], (await ClaimAsync("r2", 10, T0)).Select(e => e.Id));
    }

    /// <summary>
    /// Keys that differ only in how many trailing spaces they have are different keys: each is a head of its own, and
    /// the claim's walk over keys visits every one (a PAD SPACE comparison, as MySQL's utf8mb4_bin, made them one key
    /// and skipped the longer ones when looking for "the next key after 'a'").
    /// </summary>
    [Fact]
    public async Task Claim_KeysDifferingOnlyInTrailingSpaces_AreEachTheirOwnHead_AndNoneIsSkipped()
    {
        var heads = new[] { M("a"), M("a "), M("a  "), M(" a"), M("a\u00A0") };
        var followers = new[] { M("a"), M("a "), M("a  ") };
        await EnqueueAsync([.. heads, .. followers], T0);

        // One at a time, following the key cursor as the relay does, so the walk over keys steps from each key to the
        // next; a lap more than needed, to show nothing else is claimable.
        var claimed = new List<Guid>();
        string? cursor = null;
        for (var i = 0; i < 4 * heads.Length; i++)
        {
            var result = await Store.ClaimAsync(new ClaimRequest("r", 1, T0, T0 + Lease, true, cursor), CancellationToken.None);
            cursor = result.NextKeyCursor;
            claimed.AddRange(result.Messages.Select(e => e.Id));
        }

        Assert.Equal(heads.Select(m => m.Id).Order(), claimed.Order());
    }

    [Theory]
    [InlineData(9, false)]
    [InlineData(-5, false)]
    [InlineData(9, true)]
    [InlineData(-5, true)]
    public async Task Enqueue_AvailableAtWithAnOffset_IsTheSameInstant(int offsetHours, bool bulk)
    {
        var offset = TimeSpan.FromHours(offsetHours);
        var due = T0 + TimeSpan.FromMinutes(10);
        var delayed = new OutboxMessage("orders", new byte[1]) { Key = "k", AvailableAt = due.ToOffset(offset) };
        var later = new OutboxMessage("orders", new byte[1]) { AvailableAt = (due + TimeSpan.FromMinutes(5)).ToOffset(-offset) };
        var now = M();

        await using (var provider = CreatePostbox())
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var outbox = provider.GetRequiredService<IOutbox>();
            await InsertBusinessRowAsync(connection, transaction, "b");
            if (bulk)
            {
                Assert.Equal(3, await outbox.EnqueueAsync(transaction, [delayed, later, now]));
            }
            else
            {
                Assert.True(await outbox.EnqueueAsync(transaction, delayed));
                Assert.True(await outbox.EnqueueAsync(transaction, later));
                Assert.True(await outbox.EnqueueAsync(transaction, now));
            }

            await transaction.CommitAsync();
        }

        Assert.Equal(TimeSpan.Zero, delayed.AvailableAt!.Value.Offset);
        Assert.Equal(["b"], await BusinessRowsAsync());
        var first = Assert.Single(await ClaimAsync("r", 10, T0));
        Assert.Equal(now.Id, first.Id);
        Assert.Equal((T0, TimeSpan.Zero), (first.CreatedAt, first.CreatedAt.Offset));
        await SettleAsync("r", T0, delivered: [now.Id]);
        Assert.Empty(await ClaimAsync("r", 10, due - TimeSpan.FromSeconds(1)));
        Assert.Equal([delayed.Id], (await ClaimAsync("r", 10, due)).Select(e => e.Id));
        await SettleAsync("r", due, delivered: [delayed.Id]);
        Assert.Empty(await ClaimAsync("r", 10, due + TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1)));
        Assert.Equal([later.Id], (await ClaimAsync("r", 10, due + TimeSpan.FromMinutes(5))).Select(e => e.Id));
    }

    [Fact]
    public async Task Write_EnqueueTimeWithAnOffset_IsStoredAsTheSameInstant()
    {
        var delayed = M(at: T0 + TimeSpan.FromMinutes(1));
        await EnqueueAsync([M(), delayed], T0.ToOffset(TimeSpan.FromHours(-5)));
        await EnqueueAsync([M()], T0InTokyo);

        Assert.Equal(T0, await Store.GetOldestPendingAsync(CancellationToken.None));
        var claimed = await ClaimAsync("r", 10, T0);
        Assert.Equal(2, claimed.Count);
        Assert.All(claimed, e => Assert.Equal((T0, TimeSpan.Zero), (e.CreatedAt, e.CreatedAt.Offset)));
        await SettleAsync("r", T0, delivered: [.. claimed.Select(e => e.Id)]);
        Assert.Equal([delayed.Id], (await ClaimAsync("r", 10, T0 + TimeSpan.FromMinutes(1))).Select(e => e.Id));
    }

    [Theory]
    [InlineData(DateTimeKind.Utc)]
    [InlineData(DateTimeKind.Local)]
    [InlineData(DateTimeKind.Unspecified)]
    public async Task Enqueue_AvailableAtFromADateTimeOfAnyKind_IsTheInstantDotNetGivesIt(DateTimeKind kind)
    {
        // DateTime converts to DateTimeOffset implicitly: Utc as is, Local and Unspecified as the host's local time.
        // On a host outside UTC (run the suite with TZ=Asia/Tokyo) the last two carry that offset into the store.
        var due = T0 + TimeSpan.FromMinutes(10);
        var local = TimeZoneInfo.ConvertTime(due, TimeZoneInfo.Local).DateTime;
        DateTime value = kind switch
        {
            DateTimeKind.Utc => due.UtcDateTime,
            DateTimeKind.Local => DateTime.SpecifyKind(local, DateTimeKind.Local),
            _ => DateTime.SpecifyKind(local, DateTimeKind.Unspecified),
        };
        var message = new OutboxMessage("orders", new byte[1]) { AvailableAt = value };

        await using (var provider = CreatePostbox())
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.True(await provider.GetRequiredService<IOutbox>().EnqueueAsync(transaction, message));
            await transaction.CommitAsync();
        }

        Assert.Empty(await ClaimAsync("r", 10, due - TimeSpan.FromSeconds(1)));
        Assert.Equal([message.Id], (await ClaimAsync("r", 10, due)).Select(e => e.Id));
    }

    [Fact]
    public async Task Enqueue_AvailableAtAtTheEndsOfTheRange_PastMeansAtOnce_LatestAcceptedIsHeld()
    {
        var minimum = new OutboxMessage("orders", new byte[1]) { AvailableAt = DateTimeOffset.MinValue };
        var latest = new OutboxMessage("orders", new byte[1]) { AvailableAt = new DateTimeOffset(9999, 12, 30, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999) };

        await using (var provider = CreatePostbox())
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.Equal(2, await provider.GetRequiredService<IOutbox>().EnqueueAsync(transaction, [minimum, latest]));
            await transaction.CommitAsync();
        }

        Assert.Equal([minimum.Id], (await ClaimAsync("r", 10, T0)).Select(e => e.Id));
        await SettleAsync("r", T0, delivered: [minimum.Id]);
        var end = new DateTimeOffset(9999, 12, 30, 23, 59, 59, TimeSpan.Zero);
        Assert.Empty(await ClaimAsync("r", 10, end));
        Assert.Equal([latest.Id], (await ClaimAsync("r", 10, end.AddTicks(9_999_990))).Select(e => e.Id));
    }

    [Theory]
    [InlineData(2, 0, 1)]
    [InlineData(3, 0, 2)]
    [InlineData(40, 17, 33)]
    public async Task Enqueue_SameIdTwiceInOneCall_IsRefusedNamingBothIndexes_AndTheCallersTransactionStillCommits(int count, int first, int second)
    {
        var messages = Enumerable.Range(0, count).Select(_ => M()).ToList();
        messages[second] = new OutboxMessage("elsewhere", new byte[] { 2 }) { Id = messages[first].Id };
        var valid = M();

        await using (var provider = CreatePostbox())
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var outbox = provider.GetRequiredService<IOutbox>();
            await InsertBusinessRowAsync(connection, transaction, "before");

            var error = await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(transaction, messages));

            Assert.Contains($"#{first} and #{second}", error.Message, StringComparison.Ordinal);
            Assert.Contains(messages[first].Id.ToString(), error.Message, StringComparison.Ordinal);
            await InsertBusinessRowAsync(connection, transaction, "after");
            Assert.True(await outbox.EnqueueAsync(transaction, valid));
            await transaction.CommitAsync();
        }

        Assert.Equal(["after", "before"], await BusinessRowsAsync());
        Assert.Equal([valid.Id], (await ClaimAsync("r", 100, T0)).Select(e => e.Id));
    }

    [Fact]
    public async Task Enqueue_IdAlreadyStoredByAnEarlierTransaction_IsSkipped_KeepsTheStoredMessage_AndTheCallersTransactionCommits()
    {
        var original = new OutboxMessage("orders", "first"u8.ToArray()) { Key = "k" };
        var again = new OutboxMessage("elsewhere", "second"u8.ToArray()) { Id = original.Id, Key = "other" };
        var againInBulk = new OutboxMessage("elsewhere", "third"u8.ToArray()) { Id = original.Id };
        var fresh = M();
        await using var provider = CreatePostbox();
        var outbox = provider.GetRequiredService<IOutbox>();
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.True(await outbox.EnqueueAsync(transaction, original));
            await transaction.CommitAsync();
        }

        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await InsertBusinessRowAsync(connection, transaction, "b1");
            Assert.False(await outbox.EnqueueAsync(transaction, again));
            Assert.Equal(1, await outbox.EnqueueAsync(transaction, [againInBulk, fresh]));
            await InsertBusinessRowAsync(connection, transaction, "b2");
            await transaction.CommitAsync();
        }

        Assert.Equal(["b1", "b2"], await BusinessRowsAsync());
        Assert.Equal(2, await CountAsync());
        var claimed = await ClaimAsync("r", 10, T0);
        Assert.Equal([original.Id, fresh.Id], claimed.Select(e => e.Id));
        Assert.Equal(("orders", "k", "first"), (claimed[0].Topic, claimed[0].Key, Encoding.UTF8.GetString(claimed[0].Payload.Span)));
    }

    [Fact]
    public async Task Enqueue_IdAlreadyDelivered_IsSkipped_WhileTheRowIsKept()
    {
        var message = M();
        await EnqueueAsync([message], T0);
        await ClaimAsync("r", 10, T0);
        await SettleAsync("r", T0, delivered: [message.Id]);

        await using (var provider = CreatePostbox())
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.False(await provider.GetRequiredService<IOutbox>().EnqueueAsync(transaction, new OutboxMessage("orders", new byte[1]) { Id = message.Id }));
            await transaction.CommitAsync();
        }

        Assert.Equal((1, 1, (string?)null), (await GetRowAsync(message.Id))!.Value);
        Assert.Empty(await ClaimAsync("r", 10, T0));
    }

    [Fact]
    public async Task Enqueue_SameIdAgainInTheSameTransaction_IsSkipped()
    {
        var message = M();
        await using (var provider = CreatePostbox())
        await using (var connection = await OpenBusinessConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var outbox = provider.GetRequiredService<IOutbox>();
            Assert.True(await outbox.EnqueueAsync(transaction, message));
            Assert.False(await outbox.EnqueueAsync(transaction, message));
            Assert.Equal(0, await outbox.EnqueueAsync(transaction, [message]));
            await InsertBusinessRowAsync(connection, transaction, "b");
            await transaction.CommitAsync();
        }

        Assert.Equal(["b"], await BusinessRowsAsync());
        Assert.Equal(1, await CountAsync());
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
