using System.Diagnostics;
using System.Globalization;
using Microsoft.Playwright;
using Postbox.Dashboard.Tests.Infrastructure;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Postbox.Dashboard.Tests;

/// <summary>Runs only with POSTBOX_DASHBOARD_SCALE=1: it writes 1,000,000 outbox and 200,000 inbox rows (about a minute).</summary>
public sealed class ScaleFactAttribute : FactAttribute
{
    public ScaleFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("POSTBOX_DASHBOARD_SCALE") != "1")
        {
            Skip = "A measurement, not part of the suite: set POSTBOX_DASHBOARD_SCALE=1 (writes 1,000,000 rows).";
        }
    }
}

/// <summary>
/// Page load times on a table of a million rows, measured in the browser (the numbers go to docs/dashboard.md; nothing
/// asserts a time). It asserts that each page shows what the table holds, so a page that "loads fast" by showing
/// nothing fails.
/// </summary>
[Collection(nameof(BrowserTests))]
public sealed class ScaleMeasurementTests(Browser browser, ITestOutputHelper output)
{
    [ScaleFact]
    public async Task Pages_WithAMillionOutboxRows_LoadAndShowTheRows()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var seeding = Stopwatch.StartNew();
        // 1,000,000 outbox rows: 900,000 delivered, 60,000 ready, 20,000 scheduled, 20,000 dead; 200,000 inbox rows.
        await host.ExecuteAsync("""
            INSERT INTO {schema}.outbox (id, state, topic, key, payload, created_at, available_at, attempts, last_error, last_attempt_at, delivered_at)
            SELECT gen_random_uuid(),
                   CASE WHEN g <= 900000 THEN 1 WHEN g <= 960000 THEN 0 WHEN g <= 980000 THEN 4 ELSE 2 END,
                   'topic-' || (g % 20), CASE WHEN g % 2 = 0 THEN 'key-' || (g % 5000) END, '{"n":1}'::bytea,
                   now() - make_interval(secs => 1000000 - g), now() + interval '1 hour', CASE WHEN g > 960000 THEN 3 ELSE 1 END,
                   CASE WHEN g > 960000 THEN 'error ' || g END, CASE WHEN g > 960000 THEN now() END,
                   CASE WHEN g <= 900000 THEN now() - make_interval(secs => 1000000 - g) END
            FROM generate_series(1, 1000000) g
            """);
        await host.ExecuteAsync("""
            INSERT INTO {schema}.inbox (message_id, consumer, state, topic, attempts, errors, received_at, processed_at, next_attempt_at, dead_at, payload)
            SELECT gen_random_uuid(), 'consumer-' || (g % 10), CASE WHEN g <= 180000 THEN 1 WHEN g <= 190000 THEN 2 ELSE 3 END, 'topic-' || (g % 20),
                   3, '[{"attempt":1,"at":"2026-11-30T00:00:00Z","error":"boom"}]'::jsonb, now() - make_interval(secs => 200000 - g),
                   CASE WHEN g <= 180000 THEN now() END, CASE WHEN g > 180000 AND g <= 190000 THEN now() + interval '1 hour' END,
                   CASE WHEN g > 190000 THEN now() - make_interval(secs => 200000 - g) END, CASE WHEN g > 180000 THEN '{"n":1}'::bytea END
            FROM generate_series(1, 200000) g
            """);
        await host.ExecuteAsync("ANALYZE {schema}.outbox; ANALYZE {schema}.inbox");
        output.WriteLine($"seeded in {seeding.Elapsed.TotalSeconds:F0} s");
        // The plans of the lists: each must walk the state's index, never sort the state.
        foreach (var sql in new[]
        {
            "SELECT id FROM {schema}.outbox WHERE state = 0 ORDER BY seq DESC LIMIT 51",
            "SELECT id FROM {schema}.outbox WHERE state = 2 AND seq < 999000 ORDER BY seq DESC LIMIT 51",
            "SELECT id FROM {schema}.outbox WHERE state = 1 AND delivered_at <= now() AND (delivered_at, seq) < (now(), 5000) ORDER BY delivered_at DESC, seq DESC LIMIT 51",
            "SELECT message_id FROM {schema}.inbox WHERE state = 3 ORDER BY dead_at DESC, seq DESC LIMIT 51",
        })
        {
            output.WriteLine(sql.Replace("{schema}.", string.Empty, StringComparison.Ordinal));
            foreach (var line in await host.QueryLinesAsync("EXPLAIN " + sql))
            {
                output.WriteLine("    " + line);
            }
        }


        var page = await browser.PageAsync();
        await Measure(page, "overview (both sides, counts capped at 10,000)", host.DashboardUrl,
            page.Locator("[data-testid=outbox-total-done] .value"), "10,000+", null);
        await Measure(page, "outbox dead, first page of 50", host.DashboardUrl + "#/list/outbox/dead", page.Locator("tr[data-id]"), null, 50);
        await Measure(page, "outbox ready, first page", host.DashboardUrl + "#/list/outbox/ready", page.Locator("tr[data-id]"), null, 50);
        await Measure(page, "outbox delivered, first page", host.DashboardUrl + "#/list/outbox/done", page.Locator("tr[data-id]"), null, 50);
        for (var i = 0; i < 20; i++)
        {
            await page.ClickAsync("#next");
        }

        await Measure(page, "outbox delivered, page 22 (keyset)", null, page.Locator("tr[data-id]"), null, 50, next: true);
        await Measure(page, "outbox ready, filter topic-7", host.DashboardUrl + "#/list/outbox/ready?topic=topic-7", page.Locator("tr[data-id]"), null, 50);
        await Measure(page, "outbox dead, filter key-42", host.DashboardUrl + "#/list/outbox/dead?key=key-42", page.Locator("tr[data-id]"), null, null);
        await Measure(page, "inbox dead, first page", host.DashboardUrl + "#/list/inbox/dead", page.Locator("tr[data-id]"), null, 50);
        await Measure(page, "inbox processed, filter consumer-3", host.DashboardUrl + "#/list/inbox/done?consumer=consumer-3", page.Locator("tr[data-id]"), null, 50);
        await page.Context.CloseAsync();
    }

    private async Task Measure(IPage page, string what, string? url, ILocator ready, string? text, int? rows, bool next = false)
    {
        var watch = Stopwatch.StartNew();
        if (next)
        {
            await page.ClickAsync("#next");
        }
        else
        {
            await page.GotoAsync("about:blank");
            await page.GotoAsync(url!);
        }

        if (text is not null)
        {
            await Expect(ready).ToHaveTextAsync(text, new() { Timeout = 60_000 });
        }
        else if (rows is { } count)
        {
            await Expect(ready).ToHaveCountAsync(count, new() { Timeout = 60_000 });
        }
        else
        {
            await Expect(page.Locator("[data-testid=page-info]")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        }

        var info = await page.Locator("[data-testid=page-info]").CountAsync() > 0 ? await page.Locator("[data-testid=page-info]").TextContentAsync() : string.Empty;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {watch.ElapsedMilliseconds} ms in the browser ({info})"));
    }
}
