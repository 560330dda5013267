using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Postbox.Dashboard.Tests.Infrastructure;

namespace Postbox.Dashboard.Tests;

/// <summary>
/// Requests an operator's script (or a typo) can send: a body the dashboard cannot read must be refused with 400 and
/// change nothing, never read as "no filter"; a value PostgreSQL cannot hold must be a 400, not a 500.
/// </summary>
public sealed partial class DashboardHostileInputTests
{
    [Theory]
    [InlineData("application/json", "{\"topic\":\"other\"")] // cut off
    [InlineData("application/json", """{"topik":"other"}""")] // a mistyped filter
    [InlineData("application/json", "null")]
    [InlineData("application/json", "[]")]
    [InlineData("application/x-www-form-urlencoded", "topic=other")]
    [InlineData("text/plain", """{"topic":"other"}""")]
    [InlineData("application/json", """{"consumer":"work-handler"}""")] // the outbox has no consumer: not "every dead message"
    public async Task ReplayAll_WithABodyItCannotRead_IsRefusedAndReplaysNothing(string contentType, string body)
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var work = await host.SeedOutboxAsync(2, topic: "work", attempts: 25, lastError: "x");
        var other = await host.SeedOutboxAsync(2, topic: "other", attempts: 25, lastError: "x");
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        var token = await TokenAsync(client);

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/postbox/api/outbox/replay-all") { Content = new StringContent(body, Encoding.UTF8, contentType) })
        {
            request.Headers.Add("RequestVerificationToken", token);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        Assert.Equal(2, await host.CountAsync("outbox", "state = 2 AND id IN ($1, $2)", work, other));

        // The neighbour: the same filter, well formed, replays that topic's message only.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/postbox/api/outbox/replay-all") { Content = JsonContent.Create(new { topic = "other" }) })
        {
            request.Headers.Add("RequestVerificationToken", token);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(1, await host.CountAsync("outbox", "state = 2 AND id = $1", work));
        Assert.Equal(1, await host.CountAsync("outbox", "state = 0 AND id = $1", other));
    }

    [Theory]
    [InlineData("/postbox/api/outbox/messages?state=dead&topic=a%00b")]
    [InlineData("/postbox/api/outbox/messages?state=dead&key=%00")]
    [InlineData("/postbox/api/inbox/messages?state=dead&consumer=work%00")]
    public async Task List_WithANulInAFilter_Answers400(string path)
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        await host.SeedOutboxAsync(2, attempts: 25, lastError: "x");
        using var client = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();

        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("NUL", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/postbox/api/outbox/replay-all", """{"topic":"a\u0000"}""")]
    [InlineData("/postbox/api/inbox/replay-all", """{"consumer":"work-handler\u0000"}""")]
    [InlineData("/postbox/api/inbox/delete", """{"messages":[{"id":"0194c3a0-0000-7000-8000-000000000001","consumer":"work\u0000"}]}""")]
    public async Task Action_WithANulInAFilterOrConsumer_Answers400AndChangesNothing(string path, string body)
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var dead = await host.SeedInboxAsync(3, errors: "y");
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        var token = await TokenAsync(client);

        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("RequestVerificationToken", token);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, await host.CountAsync("inbox", "state = 3 AND message_id = $1", dead));
    }

    [Theory]
    [InlineData("/postbox/api/outbox/pause", "a\u0000b", "NUL")]
    [InlineData("/postbox/api/outbox/resume", "a\u0000b", "NUL")]
    [InlineData("/postbox/api/inbox/pause", "work-handler\u0000", "NUL")]
    [InlineData("/postbox/api/inbox/resume", "\u0000", "NUL")]
    [InlineData("/postbox/api/outbox/pause", " ", "blank")]
    [InlineData("/postbox/api/inbox/pause", "\t\u00a0 ", "blank")]
    [InlineData("/postbox/api/outbox/resume", "  ", "blank")]
    public async Task PauseOrResume_OfANameNoTopicOrConsumerCanHave_Answers400AndPausesNothing(string path, string name, string reason)
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: true);
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        var token = await TokenAsync(client);

        // PostgreSQL cannot hold a NUL in text: without the check this was a 500 with a stack trace in the log. A blank
        // name was paused, matched nothing (topics and consumers are never blank) and was listed as an empty row.
        using (var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new { name }) })
        {
            request.Headers.Add("RequestVerificationToken", token);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains(reason, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal("[]", await client.GetStringAsync("/postbox/api/pauses"));

        // The neighbour: the same name without the NUL is taken.
        using (var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new { name = "ab" }) })
        {
            request.Headers.Add("RequestVerificationToken", token);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static async Task<string> TokenAsync(HttpClient client)
    {
        var html = await client.GetStringAsync("/postbox/");
        return WebUtility.HtmlDecode(TokenPattern().Match(html).Groups[1].Value);
    }

    [GeneratedRegex("""<meta name="postbox-token" content="([^"]+)">""")]
    private static partial Regex TokenPattern();
}
