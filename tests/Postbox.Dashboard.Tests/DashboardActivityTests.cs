using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Postbox.Consumers;
using Postbox.Dashboard.Tests.Infrastructure;
using Postbox.Monitoring;
using static Microsoft.Playwright.Assertions;

namespace Postbox.Dashboard.Tests;

/// <summary>
/// The servers page (relay and worker heartbeats) and the overview's rates and charts, in a real Chromium over a real
/// PostgreSQL store with a real relay and consumer writing their heartbeats.
/// </summary>
[Collection(nameof(BrowserTests))]
public sealed class DashboardActivityTests(Browser browser)
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task ServersPage_ListsTheRunningRelayAndWorker_WithPidHostAndHandlers()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: true, heartbeat: Heartbeat, dashboard: o => o.RefreshInterval = TimeSpan.FromSeconds(1));
        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl + "#/servers");

        var rows = page.Locator("[data-testid=servers] tbody tr[data-owner]");
        await Expect(rows).ToHaveCountAsync(2);
        var relay = page.Locator("[data-testid=servers] tr[data-role=relay]");
        var worker = page.Locator("[data-testid=servers] tr[data-role=worker]");
        await Expect(relay.Locator("[data-testid=pid]")).ToHaveTextAsync(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(worker.Locator("[data-testid=pid]")).ToHaveTextAsync(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(relay).ToContainTextAsync(Environment.MachineName);
        var handlers = worker.Locator("[data-testid=handlers] div[data-consumer]");
        await Expect(handlers).ToHaveTextAsync(["work → work-handler ×12", "other → other-handler ×12"]);
        await Expect(relay.Locator("[data-testid=status]")).ToHaveTextAsync("running");
        await Expect(worker.Locator("[data-testid=status]")).ToHaveTextAsync("running");

        // The owner id is the one the leases carry: the relay's in the outbox, the worker's in the inbox's retries.
        var relayOwner = await relay.GetAttributeAsync("data-owner");
        Assert.StartsWith($"{Environment.MachineName}/{Environment.ProcessId}/", relayOwner, StringComparison.Ordinal);
        Assert.NotEqual(relayOwner, await worker.GetAttributeAsync("data-owner"));

        // Pauses show where they take effect: on the worker's handler of the paused consumer, and on the relay as a topic
        // it does not publish; resume takes them away.
        var pauses = host.App.Services.GetRequiredService<IPostboxPauses>();
        await Expect(page.Locator("[data-testid=paused]")).ToHaveCountAsync(0);
        await pauses.PauseAsync(MessageSide.Inbox, "work-handler", "test", default);
        await pauses.PauseAsync(MessageSide.Outbox, "other", "test", default);
        await Expect(worker.Locator("div[data-consumer='work-handler'] [data-testid=paused]")).ToHaveCountAsync(1);
        await Expect(worker.Locator("div[data-consumer='other-handler'] [data-testid=paused]")).ToHaveCountAsync(0);
        await Expect(relay.Locator("[data-testid=paused-topics]")).ToContainTextAsync("publishing paused: other");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-servers.png"), FullPage = true });
        await pauses.ResumeAsync(MessageSide.Inbox, "work-handler", default);
        await pauses.ResumeAsync(MessageSide.Outbox, "other", default);
        await Expect(page.Locator("[data-testid=paused]")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task ServersPage_GracefullyStoppedProcessDisappears_AndOneThatStoppedBeatingShowsStale()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false, dashboard: o => o.RefreshInterval = TimeSpan.FromSeconds(1));
        // A second process: relay and worker of its own, on the same database.
        var other = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        other.Logging.SetMinimumLevel(LogLevel.Warning);
        other.Services.AddSingleton<Handled>();
        other.Services.AddPostbox(o =>
            {
                o.Relay.HeartbeatInterval = Heartbeat;
                o.Relay.OwnerId = "other-relay";
                o.Relay.ShutdownTimeout = TimeSpan.FromSeconds(1);
            })
            .UsePostgreSql(host.DataSource, o => o.Schema = host.Schema)
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o =>
            {
                o.HeartbeatInterval = Heartbeat;
                o.OwnerId = "other-worker";
                o.HandleSignals = false;
                o.ShutdownTimeout = TimeSpan.FromSeconds(1);
            })
            .AddHandler<WorkItem, RecordingHandler>("other", o => (o.ConsumerName, o.Concurrency) = ("other-handler", 3));
        using var process = other.Build();
        await process.StartAsync();

        // One that was killed: its last heartbeat, a minute ago, every 10 s; nobody deletes it.
        var registry = process.Services.GetRequiredService<IServerRegistry>();
        var lastBeat = DateTimeOffset.UtcNow.AddMinutes(-1);
        await registry.BeatAsync(new ServerHeartbeat("killed-worker", ServerRole.Worker, "box-2", 999, lastBeat.AddMinutes(-5), lastBeat, TimeSpan.FromSeconds(10),
            [new ServerHandler("mail.send", "mailer", 4)]), [], default);

        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl + "#/servers");
        await Expect(page.Locator("[data-testid=servers] tr[data-owner]")).ToHaveCountAsync(3);
        await Expect(page.Locator("tr[data-owner=other-worker] [data-testid=handlers]")).ToHaveTextAsync("other → other-handler ×3");
        await Expect(page.Locator("tr[data-owner=other-relay] [data-testid=status]")).ToHaveTextAsync("running");
        var killed = page.Locator("tr[data-owner=killed-worker]");
        await Expect(killed.Locator("[data-testid=status]")).ToHaveTextAsync("stale");
        await Expect(killed).ToHaveClassAsync("stale");
        await Expect(killed.Locator("[data-testid=pid]")).ToHaveTextAsync("999");

        // Graceful stop: both rows go (the page refreshes itself); the killed one stays, stale.
        await process.StopAsync();
        await Expect(page.Locator("[data-testid=servers] tr[data-owner]")).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Expect(page.Locator("[data-testid=servers] tr[data-owner]")).ToHaveAttributeAsync("data-owner", "killed-worker");
    }

    [Fact]
    public async Task Overview_RatesAndCharts_MatchKnownPublishedHandledAndFailedCounts()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: true, heartbeat: Heartbeat, dashboard: o => o.RefreshInterval = TimeSpan.FromSeconds(1),
            postbox: b => b.AddHandler<WorkItem, FailingHandler>("flaky", o => (o.ConsumerName, o.MaxAttempts) = ("flaky-handler", 1)));
        const int Work = 12, Flaky = 3, Unroutable = 2;
        for (var i = 0; i < Work; i++)
        {
            await host.SeedOutboxAsync(0, topic: "work");
        }

        for (var i = 0; i < Flaky; i++)
        {
            await host.SeedOutboxAsync(0, topic: "flaky");
        }

        // No subscriber: the in-process transport refuses them; one attempt each (their own budget), then dead.
        for (var i = 0; i < Unroutable; i++)
        {
            await host.ExecuteAsync(
                "INSERT INTO {schema}.outbox (id, state, topic, payload, created_at, available_at, max_attempts) VALUES ($1, 0, 'nowhere', '\\x7b7d'::bytea, now(), now(), 1)",
                Guid.CreateVersion7());
        }

        using var http = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        JsonElement stats = default;
        JsonElement Series(string side, string name) => stats.GetProperty(side).EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);
        long Sum(JsonElement series, string key) => series.GetProperty(key).EnumerateArray().Sum(v => v.GetInt64());
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            stats = await http.GetFromJsonAsync<JsonElement>("/postbox/api/stats");
            var names = stats.GetProperty("outbox").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToHashSet();
            var inbox = stats.GetProperty("inbox").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToHashSet();
            if (names.SetEquals(["work", "flaky", "nowhere"]) && inbox.SetEquals(["work-handler", "flaky-handler"])
                && Sum(Series("outbox", "work"), "handled") == Work && Sum(Series("inbox", "work-handler"), "handled") == Work
                && Sum(Series("inbox", "flaky-handler"), "dead") == Flaky && Sum(Series("outbox", "nowhere"), "dead") == Unroutable)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The stats did not reach the known counts: {stats}");
            await Task.Delay(200);
        }

        Assert.Equal(60, stats.GetProperty("minutes").GetArrayLength());
        // Outbox: published per topic; the unroutable ones failed once and went dead.
        Assert.Equal((Work, 0L, 0L), (Sum(Series("outbox", "work"), "handled"), Sum(Series("outbox", "work"), "failed"), Sum(Series("outbox", "work"), "dead")));
        Assert.Equal((Flaky, 0L), (Sum(Series("outbox", "flaky"), "handled"), Sum(Series("outbox", "flaky"), "failed")));
        Assert.Equal((0L, Unroutable, Unroutable), (Sum(Series("outbox", "nowhere"), "handled"), Sum(Series("outbox", "nowhere"), "failed"), Sum(Series("outbox", "nowhere"), "dead")));
        // Inbox: handled per consumer; the flaky handler's one attempt each failed and went dead.
        Assert.Equal((Work, 0L), (Sum(Series("inbox", "work-handler"), "handled"), Sum(Series("inbox", "work-handler"), "failed")));
        Assert.Equal((0L, Flaky, Flaky), (Sum(Series("inbox", "flaky-handler"), "handled"), Sum(Series("inbox", "flaky-handler"), "failed"), Sum(Series("inbox", "flaky-handler"), "dead")));

        // The 5-minute window holds everything (the test is younger than 5 minutes); its rate is its count over its length.
        var last5 = Series("inbox", "work-handler").GetProperty("last5");
        Assert.Equal(Work, last5.GetProperty("handled").GetInt64());
        Assert.Equal(Math.Round(Work / last5.GetProperty("seconds").GetDouble(), 3), last5.GetProperty("perSecond").GetDouble(), 3);
        Assert.InRange(last5.GetProperty("seconds").GetDouble(), 300, 360);
        Assert.Equal(1.0, Series("inbox", "flaky-handler").GetProperty("last5").GetProperty("errorRate").GetDouble());
        Assert.Equal(0.0, last5.GetProperty("errorRate").GetDouble());
        // Latency: a mean and a maximum wherever messages were published.
        var work = Series("outbox", "work");
        var handled = work.GetProperty("handled").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        var avg = work.GetProperty("latencyAvgMs").EnumerateArray().ToArray();
        for (var i = 0; i < handled.Length; i++)
        {
            Assert.Equal(handled[i] > 0, avg[i].ValueKind == JsonValueKind.Number);
        }

        // The page: the rate tables show the same numbers, and each side's three charts render.
        var page = await browser.PageAsync();
        await page.GotoAsync(host.DashboardUrl);
        await Expect(page.Locator("[data-testid=inbox-rates] tr[data-name=work-handler] [data-testid=handled5]")).ToHaveTextAsync(Work.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(page.Locator("[data-testid=inbox-rates] tr[data-name=flaky-handler] [data-testid=failed5]")).ToHaveTextAsync(Flaky.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(page.Locator("[data-testid=inbox-rates] tr[data-name=flaky-handler] [data-testid=errors5]")).ToHaveTextAsync("100.0 %");
        await Expect(page.Locator("[data-testid=outbox-rates] tr[data-name=nowhere] [data-testid=dead5]")).ToHaveTextAsync(Unroutable.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(page.Locator("[data-testid=outbox-rates] tr[data-name=work] [data-testid=handled5]")).ToHaveTextAsync(Work.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var chart in new[] { "outbox-throughput", "outbox-lag", "outbox-failures", "inbox-throughput", "inbox-lag", "inbox-failures" })
        {
            await Expect(page.Locator($"svg[data-testid={chart}]")).ToBeVisibleAsync();
        }

        // Throughput: one line per topic over all 60 minutes; its highest point is labelled with the busiest minute's count.
        await Expect(page.Locator("svg[data-testid=outbox-throughput] polyline")).ToHaveCountAsync(3);
        var points = await page.Locator("svg[data-testid=outbox-throughput] polyline").First.GetAttributeAsync("points");
        Assert.Equal(60, points!.Split(' ').Length);
        await Expect(page.Locator("svg[data-testid=outbox-lag] polyline, svg[data-testid=outbox-lag] circle")).Not.ToHaveCountAsync(0);
        await Expect(page.Locator("svg[data-testid=inbox-failures] polyline")).ToHaveCountAsync(2);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = TestEnvironment.ScreenshotPath("dashboard-overview-activity.png"), FullPage = true });
    }

    [Fact]
    public async Task OneMinuteRate_AtTheStartOfAMinute_StillCountsTheMinuteBefore()
    {
        // Steady traffic whose current minute has not been written yet (counts arrive with the next heartbeat, up to its
        // interval late): the "1 min" rate read 0 for the first seconds of every minute while 120 messages a minute flowed.
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        using var http = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        for (var attempt = 0; ; attempt++)
        {
            var name = "steady-" + attempt;
            var minute = DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60;
            foreach (var m in new[] { minute - 6, minute - 5, minute - 4, minute - 3, minute - 2, minute - 1 })
            {
                await host.ExecuteAsync("INSERT INTO {schema}.stats (minute, side, name, handled, failed, dead, latency_sum_ms, latency_max_ms) VALUES ($1, 1, $2, 120, 0, 0, 0, 0)",
                    m, name);
            }

            var stats = await http.GetFromJsonAsync<JsonElement>("/postbox/api/stats");
            if (stats.GetProperty("at").GetDateTimeOffset().ToUnixTimeSeconds() / 60 != minute)
            {
                Assert.True(attempt < 3, "the minute kept turning over");
                continue; // the minute turned over between the inserts and the read: the windows moved; again
            }

            var series = stats.GetProperty("inbox").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);
            var last1 = series.GetProperty("last1");
            var last5 = series.GetProperty("last5");
            Assert.Equal(120, last1.GetProperty("handled").GetInt64());
            Assert.InRange(last1.GetProperty("perSecond").GetDouble(), 1.0, 2.0); // 120 over 60 to 120 s
            Assert.Equal(600, last5.GetProperty("handled").GetInt64());
            Assert.InRange(last5.GetProperty("perSecond").GetDouble(), 600 / 360.0 - 0.01, 2.0);
            return;
        }
    }

    [Fact]
    public async Task Api_WithoutAHeartbeatStore_Answers404_AndTheServersPageSaysSo()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false, serverRegistry: false);
        using var http = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/postbox/api/servers")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/postbox/api/stats")).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/postbox/api/servers")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/postbox/api/stats")).StatusCode);
    }

    private sealed class FailingHandler : IMessageHandler<WorkItem>
    {
        public Task HandleAsync(WorkItem message, MessageContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("flaky handler always fails");
    }
}
