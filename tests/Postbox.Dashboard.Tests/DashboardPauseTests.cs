using Microsoft.Playwright;
using Postbox.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Postbox.Dashboard.Tests;

/// <summary>
/// Pause and resume of a topic from the dashboard, in a real Chromium, over a real PostgreSQL store with a real relay and
/// real consumers: a paused topic is not published while another topic flows, and resume publishes it.
/// </summary>
[Collection(nameof(BrowserTests))]
public sealed class DashboardPauseTests(Browser browser)
{
    private static readonly TimeSpan HandledTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PauseOfATopicFromTheUi_StopsItsPublishing_WhileAnotherTopicFlows_AndResumeRestartsIt()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: true);
        // A delivered row each, so both topics have a row on the overview.
        await host.SeedOutboxAsync(1, topic: "work");
        await host.SeedOutboxAsync(1, topic: "other");

        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl);
        var work = page.Locator("[data-testid=outbox-groups] tr[data-name='work']");
        await Expect(work.Locator("button.pause-toggle")).ToHaveTextAsync("Pause");

        // Cancel first: nothing is paused.
        await work.Locator("button.pause-toggle").ClickAsync();
        await page.ClickAsync("#confirm-cancel");
        await Expect(page.Locator("[data-testid=pauses]")).ToContainTextAsync("Nothing is paused");
        Assert.Equal(0, await host.CountAsync("pauses", "true"));

        await work.Locator("button.pause-toggle").ClickAsync();
        await Expect(page.Locator("#confirm")).ToBeVisibleAsync();
        await page.ClickAsync("#confirm-ok");
        await Expect(work.Locator("[data-testid=paused-badge]")).ToBeVisibleAsync();
        await Expect(work.Locator("button.pause-toggle")).ToHaveTextAsync("Resume");
        await Expect(page.Locator("[data-testid=paused-list]")).ToContainTextAsync(BasicAuthentication.User);
        Assert.Equal(1, await host.CountAsync("pauses", "side = 'outbox' AND name = 'work' AND paused_by = $1", BasicAuthentication.User));

        // Enqueued after the pause: keyless and keyed messages of both topics, interleaved.
        var held = new List<Guid>();
        var flowing = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            held.Add(await host.SeedOutboxAsync(0, topic: "work", key: i % 2 == 0 ? null : "w-key", text: $"work {i}"));
            flowing.Add(await host.SeedOutboxAsync(0, topic: "other", key: i % 2 == 0 ? null : "o-key", text: $"other {i}"));
        }

        foreach (var id in flowing)
        {
            await host.Handled.WaitAsync(id, HandledTimeout);
        }

        // The other topic's messages were claimed together with these: had the relay published them, the consumer would
        // have them by now (one more claim round to be sure).
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(held, host.Handled.Has);
        Assert.Equal(0, await host.CountAsync("outbox", "id = ANY($1) AND state IN (1, 3)", held.ToArray()));
        await page.ReloadAsync();
        await Expect(work.Locator("[data-testid=paused-badge]")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-paused.png"), FullPage = true });

        await work.Locator("button.pause-toggle").ClickAsync();
        await page.ClickAsync("#confirm-ok");
        await Expect(page.Locator("#toast")).ToContainTextAsync("Resume");
        foreach (var id in held)
        {
            await host.Handled.WaitAsync(id, HandledTimeout);
        }

        await Expect(work.Locator("button.pause-toggle")).ToHaveTextAsync("Pause");
        await Expect(work.Locator("[data-testid=paused-badge]")).ToHaveCountAsync(0);
        Assert.Equal(0, await host.CountAsync("pauses", "true"));
        await host.WaitForAsync("outbox", "topic = 'work' AND state = 1 AND id = $1", held[^1]);
        Assert.Equal(0, await host.CountAsync("outbox", "state = 4"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task PauseOfAConsumerWithNoRowsYet_FromThePausedForm_IsListed_AndResumeFromTheListClearsIt()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: true);
        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl);
        await page.SelectOptionAsync("#pause-form select[name=side]", "inbox");
        await page.FillAsync("#pause-form input[name=name]", "not-yet-running");
        await page.ClickAsync("#pause-form button[type=submit]");
        await page.ClickAsync("#confirm-ok");
        await Expect(page.Locator("[data-testid=paused-list]")).ToContainTextAsync("not-yet-running");
        Assert.Equal(1, await host.CountAsync("pauses", "side = 'inbox' AND name = 'not-yet-running'"));

        await page.Locator("[data-testid=paused-list] button.pause-toggle").ClickAsync();
        await page.ClickAsync("#confirm-ok");
        await Expect(page.Locator("[data-testid=pauses]")).ToContainTextAsync("Nothing is paused");
        Assert.Equal(0, await host.CountAsync("pauses", "true"));
        await page.Context.CloseAsync();
    }
}
