using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// The mailbox beside the dashboard shows the .eml files the out-of-the-box delivery wrote, decoded and HTML-encoded,
/// behind the dashboard's credentials, and serves nothing but those files.
/// </summary>
public sealed partial class MailboxViewTests
{
    [Fact]
    public async Task Mailbox_ShowsTheSentMailDecoded_AsText_BehindTheDashboardCredentials()
    {
        await using var service = await ServiceOnSqlite.StartAsync();
        await service.Process.WaitForLineAsync("Mailbox:", TimeSpan.FromSeconds(10));
        var password = GeneratedPassword().Match(service.Process.Output).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(password), service.Process.Output);
        const string Subject = "<script>alert(1)</script> Grüße & more";
        const string Content = "Hällo <b>bold</b>\nzweite Zeile ✓";
        using (var sent = await service.Client.PostAsJsonAsync("/api/mail/send",
            new { from = "from@example.com", to = new[] { "to@example.com" }, subject = Subject, content = Content }))
        {
            Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        }

        var folder = Path.Combine(service.Folder, "mail");
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(Directory.Exists(folder) && Directory.GetFiles(folder, "*.eml").Length == 1),
            TimeSpan.FromSeconds(60), $"the .eml file. Service:\n{service.Process.Output}");
        var name = Path.GetFileName(Directory.GetFiles(folder, "*.eml")[0]);

        var list = await GetAsync(service, "/dashboard/mailbox/", password);
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Contains(WebUtility.HtmlEncode(Subject), list.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", list.Body, StringComparison.Ordinal);
        Assert.Contains($"/dashboard/mailbox/{name}", list.Body, StringComparison.Ordinal);

        var one = await GetAsync(service, $"/dashboard/mailbox/{name}", password);
        Assert.Equal(HttpStatusCode.OK, one.Status);
        Assert.Contains(WebUtility.HtmlEncode(Content), one.Body, StringComparison.Ordinal);
        Assert.Contains(WebUtility.HtmlEncode(Subject), one.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>bold</b>", one.Body, StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", one.ContentSecurityPolicy, StringComparison.Ordinal);

        var raw = await GetAsync(service, $"/dashboard/mailbox/{name}/raw", password);
        Assert.Equal(HttpStatusCode.OK, raw.Status);
        Assert.Contains("Message-ID:", raw.Body, StringComparison.OrdinalIgnoreCase);

        foreach (var path in new[] { "/dashboard/mailbox/", $"/dashboard/mailbox/{name}", $"/dashboard/mailbox/{name}/raw" })
        {
            using var anonymous = await service.Client.GetAsync(path);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {anonymous.StatusCode}");
        }

        // Nothing but the .eml files of the folder: not the database next to it, not a path, not another name.
        File.WriteAllText(Path.Combine(folder, "note.txt"), "not a mail");
        foreach (var hostile in new[]
        {
            "..%2Fservice.db", "..%2F..%2Fservice.db", "%2Fetc%2Fpasswd", "note.txt", "service.db", "missing.eml", ".eml", "..eml", "%2E%2E%2Fx.eml",
            "x%00.eml", name.ToUpperInvariant(), name + "%2F..", "..%5Cservice.db",
        })
        {
            var response = await GetAsync(service, $"/dashboard/mailbox/{hostile}", password);
            Assert.True(response.Status is HttpStatusCode.NotFound or HttpStatusCode.BadRequest, $"{hostile}: {response.Status}\n{response.Body}");
            Assert.DoesNotContain("SQLite", response.Body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Mailbox_ALinkNamedLikeAMail_IsNotFollowed_OutOfTheFolder()
    {
        await using var service = await ServiceOnSqlite.StartAsync();
        await service.Process.WaitForLineAsync("Mailbox:", TimeSpan.FromSeconds(10));
        var password = GeneratedPassword().Match(service.Process.Output).Groups[1].Value;
        var folder = Path.Combine(service.Folder, "mail");
        Directory.CreateDirectory(folder);
        // Whoever can write to the folder (a shared --mail-dir) plants a name the mailbox serves, pointing at the
        // database beside it, or at any file the service can read.
        var secret = Path.Combine(service.Folder, "secret.txt");
        File.WriteAllText(secret, "SECRET-OUTSIDE-THE-MAILBOX");
        File.CreateSymbolicLink(Path.Combine(folder, "20990101-000000-000-mail-link.eml"), secret);
        File.CreateSymbolicLink(Path.Combine(folder, "20990101-000000-001-mail-db.eml"), service.DatabasePath);

        foreach (var name in new[] { "20990101-000000-000-mail-link.eml", "20990101-000000-001-mail-db.eml" })
        {
            foreach (var path in new[] { $"/dashboard/mailbox/{name}", $"/dashboard/mailbox/{name}/raw" })
            {
                var response = await GetAsync(service, path, password);
                Assert.True(response.Status == HttpStatusCode.NotFound, $"{path}: {response.Status}\n{response.Body}");
                Assert.DoesNotContain("SECRET-OUTSIDE", response.Body, StringComparison.Ordinal);
                Assert.DoesNotContain("SQLite", response.Body, StringComparison.Ordinal);
            }
        }

        var list = await GetAsync(service, "/dashboard/mailbox/", password);
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.DoesNotContain("mail-link.eml", list.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mailbox_AFifoNamedLikeAMail_IsNotOpened_TheMailboxStillAnswers()
    {
        await using var service = await ServiceOnSqlite.StartAsync();
        await service.Process.WaitForLineAsync("Mailbox:", TimeSpan.FromSeconds(10));
        var password = GeneratedPassword().Match(service.Process.Output).Groups[1].Value;
        var folder = Path.Combine(service.Folder, "mail");
        Directory.CreateDirectory(folder);
        // Whoever can write to the folder (a shared --mail-dir) plants a named pipe: opening it waits for a writer that
        // never comes, so each page that opened it would hang, holding a thread, and the list would never load again.
        const string Fifo = "20990101-000000-000-mail-fifo.eml";
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(folder, Fifo)))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // The neighbour: a real mail beside it is listed and opened.
        File.WriteAllText(Path.Combine(folder, "20990101-000000-001-mail-real.eml"), "From: a@example.com\r\nTo: b@example.com\r\nSubject: real one\r\n\r\nbody\r\n");

        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // a hang, not a timing: the pages answer in well under a second
        var list = await GetAsync(service, "/dashboard/mailbox/", password, patience.Token);
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Contains("real one", list.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("mail-fifo.eml", list.Body, StringComparison.Ordinal);
        foreach (var path in new[] { $"/dashboard/mailbox/{Fifo}", $"/dashboard/mailbox/{Fifo}/raw" })
        {
            var response = await GetAsync(service, path, password, patience.Token);
            Assert.True(response.Status == HttpStatusCode.NotFound, $"{path}: {response.Status}\n{response.Body}");
        }
    }

    private static async Task<(HttpStatusCode Status, string Body, string ContentSecurityPolicy)> GetAsync(ServiceOnSqlite service, string path, string password,
        CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{password}")));
        using var response = await service.Client.SendAsync(request, cancellationToken);
        var csp = response.Headers.TryGetValues("Content-Security-Policy", out var values) ? string.Join(";", values) : "";
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken), csp);
    }

    [GeneratedRegex(@"user admin, password (\S+) \(generated")]
    private static partial Regex GeneratedPassword();
}
