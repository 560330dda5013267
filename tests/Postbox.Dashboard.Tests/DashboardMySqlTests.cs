using Microsoft.Playwright;
using Postbox.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Postbox.Dashboard.Tests;

/// <summary>The dashboard in a real Chromium over a MariaDB store registered with <c>UseMySql</c> (it answered 500 there
/// while MySQL had no <c>IPostboxMonitor</c>).</summary>
[Collection(nameof(BrowserTests))]
public sealed class DashboardMySqlTests(Browser browser)
{
    private static readonly TimeSpan HandledTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task MariaDb_OverviewCountsAndDeadLetters_ShowAndReplayFromTheUi()
    {
        await using var host = await MySqlDashboardHost.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            await host.SeedOutboxAsync(1, "delivered " + i, topic: "mail.send");
        }

        var dead = await host.SeedOutboxAsync(2, "replay me", lastError: "channel closed: NOT_FOUND - no exchange 'work'", attempts: 25);
        var letter = await host.SeedDeadLetterAsync("handle me again", "SmtpCommandException: 451 4.3.0 mail server busy", "SocketException: connection refused");

        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl);
        await Expect(page.Locator("[data-testid=outbox-total-dead] .value")).ToHaveTextAsync("1");
        await Expect(page.Locator("[data-testid=outbox-total-done] .value")).ToHaveTextAsync("3");
        await Expect(page.Locator("[data-testid=inbox-total-dead] .value")).ToHaveTextAsync("1");
        await Expect(page.Locator("[data-testid=outbox-groups] tr[data-name='mail.send'] td:not(.pause-cell)").Last).ToHaveTextAsync("3");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-mysql-overview.png"), FullPage = true });

        await page.GotoAsync(host.DashboardUrl + "#/list/outbox/dead");
        await Expect(page.Locator($"tr[data-id='{dead}']")).ToContainTextAsync("NOT_FOUND");
        await page.ClickAsync($"tr[data-id='{dead}'] a");
        await Expect(page.Locator("[data-testid=state]")).ToHaveTextAsync("Dead");
        await Expect(page.Locator("[data-testid=errors]")).ToContainTextAsync("no exchange");
        await Expect(page.Locator("[data-testid=payload]")).ToContainTextAsync("\"text\": \"replay me\"");
        await page.ClickAsync("#replay");
        await page.ClickAsync("#confirm-ok");
        Assert.Equal("replay me", await host.Handled.WaitAsync(dead, HandledTimeout));

        await page.GotoAsync(host.DashboardUrl + "#/list/inbox/dead");
        await page.ClickAsync($"tr[data-id='{letter}'] a");
        await Expect(page.Locator("[data-testid=errors] tbody tr")).ToHaveCountAsync(2);
        await Expect(page.Locator("[data-testid=errors] tbody tr").Nth(0)).ToContainTextAsync("451 4.3.0 mail server busy");
        await page.ClickAsync("#replay");
        await page.ClickAsync("#confirm-ok");
        Assert.Equal("handle me again", await host.Handled.WaitAsync(letter, HandledTimeout));
        Assert.Equal(0, await host.CountAsync("outbox", "state = 2"));
        await page.Context.CloseAsync();
    }
}
