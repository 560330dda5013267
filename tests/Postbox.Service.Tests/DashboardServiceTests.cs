using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>The reference service serves the dashboard behind credentials from configuration, printed when generated.</summary>
public sealed partial class DashboardServiceTests
{
    [Fact]
    public async Task All_WithoutAConfiguredPassword_GeneratesOnePrintsItAndRequiresIt()
    {
        await using var service = await ServiceOnSqlite.StartAsync();
        await service.Process.WaitForLineAsync("user admin, password", TimeSpan.FromSeconds(10));
        var match = GeneratedPassword().Match(service.Process.Output);
        Assert.True(match.Success, service.Process.Output);
        var password = match.Groups[1].Value;
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"Dashboard:      http://127.0.0.1:{service.Port}/dashboard/"), service.Process.Output, StringComparison.Ordinal);

        foreach (var path in new[] { "/dashboard/", "/dashboard/api/overview", "/dashboard/api/inbox/messages?state=dead", "/dashboard/assets/app.js" })
        {
            using var anonymous = await service.Client.GetAsync(path);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {anonymous.StatusCode}");
            using var wrong = await SendAsync(service.Client, HttpMethod.Get, path, "admin", password + "x");
            Assert.True(wrong.StatusCode == HttpStatusCode.Unauthorized, $"{path} with a wrong password: {wrong.StatusCode}");
            using var right = await SendAsync(service.Client, HttpMethod.Get, path, "admin", password);
            Assert.True(right.StatusCode == HttpStatusCode.OK, $"{path} with the printed password: {right.StatusCode}");
        }

        // An action without the page's antiforgery token is refused even with the credentials.
        using (var action = await SendAsync(service.Client, HttpMethod.Post, "/dashboard/api/inbox/replay-all", "admin", password, "{}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, action.StatusCode);
        }

        // The API stays open (the credentials guard the dashboard only), and the password is in no table.
        using (var api = await service.Client.GetAsync("/health/live"))
        {
            Assert.Equal(HttpStatusCode.OK, api.StatusCode);
        }

        foreach (var file in new[] { service.DatabasePath, service.DatabasePath + "-wal" }.Where(File.Exists))
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.DoesNotContain(password, Encoding.UTF8.GetString(copy.ToArray()), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Dashboard_Subcommand_ListensOnItsConfiguredUrl_WithTheConfiguredPassword()
    {
        var folder = TestEnvironment.TempFolder("dashboard-url");
        var port = TestEnvironment.FreePort();
        var url = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");
        await using var process = ServiceProcess.Start("dashboard",
            ["--sqlite", $"Data Source={Path.Combine(folder, "service.db")}", $"--Dashboard:Urls={url}", "--Dashboard:UserName=ops"],
            new Dictionary<string, string> { ["Dashboard__Password"] = "configured-secret" });
        await process.WaitForLineAsync("password from configuration", TimeSpan.FromSeconds(60));
        Assert.True(process.Output.Contains($"Dashboard:      {url}/dashboard/", StringComparison.Ordinal), process.Output);
        Assert.Contains("user ops, password from configuration", process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("configured-secret", process.Output, StringComparison.Ordinal);

        using var client = new HttpClient { BaseAddress = new Uri(url) };
        using (var anonymous = await client.GetAsync("/dashboard/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using var right = await SendAsync(client, HttpMethod.Get, "/dashboard/api/overview", "ops", "configured-secret");
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string user, string password, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return client.SendAsync(request);
    }

    [GeneratedRegex(@"user admin, password (\S+) \(generated")]
    private static partial Regex GeneratedPassword();
}
