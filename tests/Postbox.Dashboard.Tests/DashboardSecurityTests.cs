using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Postbox.Dashboard.Tests.Infrastructure;

namespace Postbox.Dashboard.Tests;

/// <summary>Secure by default: the host's policy guards every page, API call and action; actions need the antiforgery token.</summary>
public sealed partial class DashboardSecurityTests
{
    private static readonly string[] Gets =
    [
        "/postbox/", "/postbox", "/postbox/assets/app.js", "/postbox/assets/app.css", "/postbox/api/overview",
        "/postbox/assets/pauses.js", "/postbox/assets/pauses.css", "/postbox/api/pauses", "/postbox/assets/common.js", "/postbox/assets/activity.js",
        "/postbox/api/outbox/messages?state=dead", "/postbox/api/inbox/messages?state=scheduled",
        "/postbox/api/outbox/find/0194c3a0-0000-7000-8000-000000000001", "/postbox/api/inbox/find/0194c3a0-0000-7000-8000-000000000001",
    ];

    private static readonly string[] Posts = ["/postbox/api/outbox/replay", "/postbox/api/outbox/retry", "/postbox/api/outbox/delete",
        "/postbox/api/outbox/replay-all", "/postbox/api/inbox/replay", "/postbox/api/inbox/retry", "/postbox/api/inbox/delete", "/postbox/api/inbox/replay-all",
        "/postbox/api/outbox/pause", "/postbox/api/outbox/resume", "/postbox/api/inbox/pause", "/postbox/api/inbox/resume"];

    [Fact]
    public async Task WithoutCredentials_EveryPageApiAndAction_Answers401()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var dead = await host.SeedOutboxAsync(2, attempts: 25, lastError: "x");
        using var client = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        foreach (var path in Gets.Append($"/postbox/api/outbox/messages/{dead}"))
        {
            using var response = await client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"GET {path}: {response.StatusCode}");
            Assert.Contains("Basic", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        foreach (var path in Posts)
        {
            using var response = await client.PostAsJsonAsync(path, new { messages = new[] { new { id = dead } } });
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"POST {path}: {response.StatusCode}");
        }

        // Wrong credentials are no better.
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("operator:guess"u8.ToArray()));
        using (var wrong = await client.GetAsync("/postbox/api/overview"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        Assert.Equal(1, await host.CountAsync("outbox", "id = $1 AND state = 2", dead));
    }

    [Fact]
    public async Task WithCredentials_EveryPageAndApi_Answers200()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var dead = await host.SeedOutboxAsync(2, attempts: 25, lastError: "x");
        var inbox = await host.SeedInboxAsync(3, errors: "y");
        using var client = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        foreach (var path in Gets.Concat([$"/postbox/api/outbox/messages/{dead}", $"/postbox/api/inbox/messages/{inbox}?consumer={DashboardHost.Consumer}"]))
        {
            using var response = await client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {response.StatusCode}");
        }
    }

    [Fact]
    public async Task Action_WithoutAValidAntiforgeryToken_IsRefusedAndChangesNothing()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false);
        var dead = await host.SeedOutboxAsync(2, attempts: 25, lastError: "x");
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = BasicAuthentication.Header();
        var body = new { messages = new[] { new { id = dead } } };

        // No token at all (and no antiforgery cookie).
        using (var response = await client.PostAsJsonAsync("/postbox/api/outbox/delete", body))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        // The page sets the cookie; a forged header token with it is still refused.
        var token = await TokenAsync(client);
        using (var forged = new HttpRequestMessage(HttpMethod.Post, "/postbox/api/outbox/delete") { Content = JsonContent.Create(body) })
        {
            forged.Headers.Add("RequestVerificationToken", token[..^4] + "AAAA");
            using var response = await client.SendAsync(forged);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        using (var replayAll = await client.PostAsJsonAsync("/postbox/api/outbox/replay-all", new { }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, replayAll.StatusCode);
        }

        using (var pause = await client.PostAsJsonAsync("/postbox/api/outbox/pause", new { name = "work" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, pause.StatusCode);
        }

        Assert.Equal(1, await host.CountAsync("outbox", "id = $1 AND state = 2", dead));

        // The neighbour: with the page's token the same request goes through (so the refusals above were the token's).
        using (var valid = new HttpRequestMessage(HttpMethod.Post, "/postbox/api/outbox/delete") { Content = JsonContent.Create(body) })
        {
            valid.Headers.Add("RequestVerificationToken", token);
            using var response = await client.SendAsync(valid);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(0, await host.CountAsync("outbox", "id = $1", dead));
    }

    [Fact]
    public async Task Map_WithoutAnAuthorizationPolicy_RefusesToStart()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddPostboxDashboard();
        await using var app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.MapPostboxDashboard("/postbox"));
        Assert.Contains("AllowAnonymousOnLoopback", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnonymousOnLoopback_WhenTheHostOptsIn_ServesLoopbackWithoutCredentials()
    {
        await using var host = await DashboardHost.StartAsync(withPostbox: false, o =>
        {
            o.AuthorizationPolicy = null;
            o.AllowAnonymousOnLoopback = true;
        });
        using var client = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        using var response = await client.GetAsync("/postbox/api/overview");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task<string> TokenAsync(HttpClient client)
    {
        var html = await client.GetStringAsync("/postbox/");
        return WebUtility.HtmlDecode(TokenPattern().Match(html).Groups[1].Value);
    }

    [GeneratedRegex("""<meta name="postbox-token" content="([^"]+)">""")]
    private static partial Regex TokenPattern();
}
