using Microsoft.Playwright;
using Postbox.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Postbox.Dashboard.Tests;

/// <summary>The dashboard in a real Chromium over a real PostgreSQL store: what it shows and what its buttons do.</summary>
[Collection(nameof(BrowserTests))]
public sealed class DashboardPageTests(Browser browser)
{
    private static readonly TimeSpan HandledTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task List_OpenedWithTheCredentialsInTheUrl_LoadsItsRows()
    {
        // http://user:password@host/dashboard/ is how many open a basic-auth page: the document's URL then carries the
        // credentials, and a fetch of a URL relative to it is refused by the browser before it is sent.
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var dead = await host.SeedOutboxAsync(2, attempts: 25, lastError: "broker unreachable");
        var page = await browser.PageAsync(withCredentials: false);
        var url = new UriBuilder(host.DashboardUrl) { UserName = BasicAuthentication.User, Password = BasicAuthentication.Password }.Uri;

        await page.GotoAsync(url + "#/list/outbox/dead");

        await Expect(page.Locator($"[data-testid=list] tr[data-id='{dead}']")).ToBeVisibleAsync();
        await Expect(page.Locator("main > p.err")).ToHaveCountAsync(0); // "Could not load: ..."
    }

    [Fact]
    public async Task EveryScript_OpenedWithTheCredentialsInTheUrl_Loads_PausesAndServersToo()
    {
        // The same for the scripts beside app.js (pauses, servers and charts): each once had its own fetch, relative to
        // the page's URL.
        await using var host = await DashboardHost.StartAsync(withPostbox: true);
        await host.SeedOutboxAsync(1, topic: "work");
        var page = await browser.PageAsync(withCredentials: false);
        var url = new UriBuilder(host.DashboardUrl) { UserName = BasicAuthentication.User, Password = BasicAuthentication.Password }.Uri;

        await page.GotoAsync(url + "#/");
        await Expect(page.Locator("[data-testid=outbox-groups] tr[data-name='work'] button.pause-toggle")).ToHaveTextAsync("Pause");
        await Expect(page.Locator("[data-testid=pauses]")).ToContainTextAsync("Nothing is paused");
        await page.GotoAsync(url + "#/servers");
        await Expect(page.Locator("[data-testid=servers] tbody tr[data-owner]")).ToHaveCountAsync(2);
        await Expect(page.Locator("main > p.err")).ToHaveCountAsync(0);
        await Expect(page.Locator("#toast")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task Overview_WithMessagesInEveryState_CountsMatchTheTables()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        // Nothing moves (no relay, no consumer): each count must equal the table's.
        for (var i = 0; i < 7; i++)
        {
            await host.SeedOutboxAsync(0, topic: i % 2 == 0 ? "mail.send" : "customer.created");
        }

        for (var i = 0; i < 4; i++)
        {
            await host.SeedOutboxAsync(4, topic: "mail.send", attempts: 2, lastError: "broker unreachable", dueIn: TimeSpan.FromHours(1));
        }

        for (var i = 0; i < 12; i++)
        {
            await host.SeedOutboxAsync(1, topic: i < 9 ? "mail.send" : "user.registered");
        }

        await host.SeedOutboxAsync(2, topic: "mail.send", attempts: 25, lastError: "channel closed: NOT_FOUND - no exchange 'mail.send'");
        await host.SeedOutboxAsync(2, topic: "customer.created", attempts: 25, lastError: "publish timed out after 00:00:05");
        for (var i = 0; i < 5; i++)
        {
            await host.SeedInboxAsync(1, consumer: "send-mail");
        }

        await host.SeedInboxAsync(2, consumer: "send-mail", errors: "451 4.3.0 mail server busy");
        await host.SeedInboxAsync(3, consumer: "send-mail", errors: ["connection refused 127.0.0.1:2525", "connection refused 127.0.0.1:2525", "451 4.3.0 try later"]);
        await host.SeedInboxAsync(1, consumer: "welcome-mail");

        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl);

        foreach (var (state, stored) in new[] { ("ready", 0), ("inFlight", 3), ("scheduled", 4), ("dead", 2), ("done", 1) })
        {
            var expected = await host.CountAsync("outbox", $"state = {stored}");
            await Expect(page.Locator($"[data-testid=outbox-total-{state}] .value")).ToHaveTextAsync(expected.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var (state, where) in new[] { ("scheduled", "state = 2"), ("dead", "state = 3"), ("done", "state = 1") })
        {
            var expected = await host.CountAsync("inbox", where);
            await Expect(page.Locator($"[data-testid=inbox-total-{state}] .value")).ToHaveTextAsync(expected.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        // Per topic: mail.send has 4 ready (i = 0, 2, 4, 6), 4 scheduled, 9 delivered, 1 dead.
        var mail = page.Locator("[data-testid=outbox-groups] tr[data-name='mail.send'] td:not(.pause-cell)");
        await Expect(mail).ToHaveTextAsync(["mail.send", "4", "0", "4", "1", "9"]);
        var sendMail = page.Locator("[data-testid=inbox-groups] tr[data-name='send-mail'] td:not(.pause-cell)");
        await Expect(sendMail).ToHaveTextAsync(["send-mail", "0", "1", "1", "5"]);
        await Expect(page.Locator("[data-testid=outbox-oldest]")).ToHaveTextAsync("5 min");

        // Auto-refresh: a new dead message shows up without reloading the page.
        await host.SeedOutboxAsync(2, topic: "mail.send", attempts: 25, lastError: "boom");
        await Expect(page.Locator("[data-testid=outbox-total-dead] .value")).ToHaveTextAsync("3", new() { Timeout = 15_000 });
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-overview.png"), FullPage = true });
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task DeadOutboxMessage_ShowsItsError_AndReplayFromTheUiDeliversItToTheConsumer()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: true);
        var dead = await host.SeedOutboxAsync(2, key: "customer-42", text: "replay me", attempts: 25,
            lastError: "RabbitMQ.Client.Exceptions.AlreadyClosedException: Already closed: The AMQP operation was interrupted");
        var other = await host.SeedOutboxAsync(2, text: "leave me dead", attempts: 25, lastError: "publish timed out");

        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl + "#/list/outbox/dead");
        var row = page.Locator($"tr[data-id='{dead}']");
        await Expect(row).ToContainTextAsync("AlreadyClosedException");
        await Expect(page.Locator("[data-testid=list] tbody tr")).ToHaveCountAsync(2);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-outbox-dead.png"), FullPage = true });

        await row.Locator("a").ClickAsync();
        await Expect(page.Locator("[data-testid=state]")).ToHaveTextAsync("Dead");
        await Expect(page.Locator("[data-testid=errors] tbody tr")).ToHaveCountAsync(1);
        await Expect(page.Locator("[data-testid=errors]")).ToContainTextAsync("Already closed");
        await Expect(page.Locator("[data-testid=payload]")).ToContainTextAsync("\"text\": \"replay me\"");
        await Expect(page.Locator("[data-testid=detail]")).ToContainTextAsync("customer-42");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-outbox-detail.png"), FullPage = true });

        // Cancel first: nothing happens.
        await page.ClickAsync("#replay");
        await page.ClickAsync("#confirm-cancel");
        await Task.Delay(500);
        Assert.False(host.Handled.Has(dead));
        Assert.Equal(1, await host.CountAsync("outbox", "id = $1 AND state = 2", dead));

        await page.ClickAsync("#replay");
        await Expect(page.Locator("#confirm")).ToBeVisibleAsync();
        await page.ClickAsync("#confirm-ok");
        Assert.Equal("replay me", await host.Handled.WaitAsync(dead, HandledTimeout));
        await Expect(page.Locator("#toast")).ToContainTextAsync("1 message");
        Assert.False(host.Handled.Has(other));
        Assert.Equal(1, await host.CountAsync("outbox", "id = $1 AND state = 2", other));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task DeadInboxLetter_ShowsItsErrorHistory_AndReplayFromTheUiRunsTheHandler()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: true);
        var dead = await host.SeedInboxAsync(3, text: "handle me again",
            errors: ["SmtpCommandException: 451 4.3.0 mail server busy", "SocketException: connection refused 127.0.0.1:2525", "SmtpCommandException: 554 5.0.0 transaction failed"]);

        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl + "#/list/inbox/dead");
        await Expect(page.Locator($"tr[data-id='{dead}']")).ToContainTextAsync("554 5.0.0");
        await page.ClickAsync($"tr[data-id='{dead}'] a");
        await Expect(page.Locator("[data-testid=errors] tbody tr")).ToHaveCountAsync(3);
        await Expect(page.Locator("[data-testid=errors] tbody tr").Nth(0)).ToContainTextAsync("451 4.3.0 mail server busy");
        await Expect(page.Locator("[data-testid=errors] tbody tr").Nth(1)).ToContainTextAsync("connection refused");
        await Expect(page.Locator("[data-testid=attempts]")).ToHaveTextAsync("3");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-inbox-detail.png"), FullPage = true });

        await page.ClickAsync("#replay");
        await page.ClickAsync("#confirm-ok");
        Assert.Equal("handle me again", await host.Handled.WaitAsync(dead, HandledTimeout));
        await host.WaitForAsync("inbox", "message_id = $1 AND state = 1", dead);
        await page.GotoAsync(host.DashboardUrl + $"#/msg/inbox/{dead}/{DashboardHost.Consumer}");
        await page.ReloadAsync();
        await Expect(page.Locator("[data-testid=state]")).ToHaveTextAsync("Processed");
        // The history of the failed attempts is kept after the replay.
        await Expect(page.Locator("[data-testid=errors] tbody tr")).ToHaveCountAsync(3);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Delete_FromTheUi_RemovesOnlyTheChosenMessages()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var doomed = await host.SeedOutboxAsync(2, attempts: 25, lastError: "poison");
        var kept = await host.SeedOutboxAsync(2, attempts: 25, lastError: "poison too");
        var inboxDoomed = await host.SeedInboxAsync(3, errors: "bad payload");

        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl + "#/list/outbox/dead");
        await page.CheckAsync($"tr[data-id='{doomed}'] .pick");
        await page.ClickAsync("#delete-selected");
        await page.ClickAsync("#confirm-cancel");
        await Task.Delay(300);
        Assert.Equal(1, await host.CountAsync("outbox", "id = $1", doomed));

        await page.ClickAsync("#delete-selected");
        await page.ClickAsync("#confirm-ok");
        await Expect(page.Locator($"tr[data-id='{doomed}']")).ToHaveCountAsync(0);
        await Expect(page.Locator($"tr[data-id='{kept}']")).ToHaveCountAsync(1);
        Assert.Equal(0, await host.CountAsync("outbox", "id = $1", doomed));
        Assert.Equal(1, await host.CountAsync("outbox", "id = $1", kept));

        await page.GotoAsync(host.DashboardUrl + $"#/msg/inbox/{inboxDoomed}/{DashboardHost.Consumer}");
        await page.ClickAsync("#delete");
        await page.ClickAsync("#confirm-ok");
        await Expect(page.Locator("h1")).ToContainTextAsync("Inbox: dead");
        Assert.Equal(0, await host.CountAsync("inbox", "message_id = $1", inboxDoomed));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Lists_PageByKeyset_EveryRowOnceAndFiltersHold()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        await host.ExecuteAsync("""
            INSERT INTO {schema}.outbox (id, state, topic, key, payload, created_at, available_at, attempts, last_error, last_attempt_at)
            SELECT gen_random_uuid(), 2, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END, 'k' || (g % 5), '\x00'::bytea, now(), now(), 25, 'dead ' || g, now()
            FROM generate_series(1, 120) g
            """);
        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl + "#/list/outbox/dead");
        var seen = new HashSet<string>();
        for (var pageNumber = 1; ; pageNumber++)
        {
            await Expect(page.Locator("[data-testid=page-info]")).ToContainTextAsync("shown");
            foreach (var id in await page.Locator("tr[data-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.id)"))
            {
                Assert.True(seen.Add(id), $"{id} shown twice (page {pageNumber})");
            }

            if (await page.Locator("#next").CountAsync() == 0)
            {
                break;
            }

            var first = await page.Locator("tr[data-id]").First.GetAttributeAsync("data-id");
            await page.ClickAsync("#next");
            await Expect(page.Locator("tr[data-id]").First).Not.ToHaveAttributeAsync("data-id", first!);
        }

        Assert.Equal(120, seen.Count);

        await page.GotoAsync(host.DashboardUrl + "#/list/outbox/dead?topic=a&key=k1");
        var expected = await host.CountAsync("outbox", "state = 2 AND topic = 'a' AND key = 'k1'");
        await Expect(page.Locator("tr[data-id]")).ToHaveCountAsync((int)expected);
        await page.Context.CloseAsync();
    }
}
