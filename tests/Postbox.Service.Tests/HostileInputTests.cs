using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>One service per class, which receives only invalid requests: every answer is a clear 4xx problem and nothing is stored.</summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private const string ValidMail = """{"from":"from@example.com","to":["to@example.com"],"subject":"s","content":"c"}""";
    private InProcessService _service = null!;

    public async Task InitializeAsync() => _service = await InProcessService.StartAsync();

    public async Task DisposeAsync() => await _service.DisposeAsync();

    public static TheoryData<string, string, string, string, int> Cases => new()
    {
        // name, path, content type, body, expected status
        { "invalid JSON", "/api/mail/send", "application/json", """{"from":"a@b.org","to":[""", 400 },
        { "JSON null", "/api/mail/send", "application/json", "null", 400 },
        { "empty body", "/api/mail/send", "application/json", "", 400 },
        { "array instead of object", "/api/mail/send", "application/json", "[1,2]", 400 },
        { "unknown property", "/api/mail/send", "application/json", """{"from":"from@example.com","to":["to@example.com"],"subject":"s","content":"c","bcc":"x@y.org"}""", 400 },
        { "duplicate property", "/api/mail/send", "application/json", """{"from":"from@example.com","from":"evil@example.com","to":["to@example.com"],"subject":"s","content":"c"}""", 400 },
        { "wrong content type", "/api/mail/send", "text/plain", ValidMail, 415 },
        { "form content type", "/api/mail/send", "application/x-www-form-urlencoded", "from=a%40b.org", 415 },
        { "CR/LF in subject", "/api/mail/send", "application/json", """{"from":"from@example.com","to":["to@example.com"],"subject":"hi\r\nBcc: victim@example.com","content":"c"}""", 400 },
        { "LF in from", "/api/mail/send", "application/json", """{"from":"from@example.com\nBcc: victim@example.com","to":["to@example.com"],"subject":"s","content":"c"}""", 400 },
        { "CR in recipient", "/api/mail/send", "application/json", """{"from":"from@example.com","to":["to@example.com\rBcc: v@example.com"],"subject":"s","content":"c"}""", 400 },
        { "invalid from", "/api/mail/send", "application/json", """{"from":"not an address","to":["to@example.com"],"subject":"s","content":"c"}""", 400 },
        { "invalid recipient", "/api/mail/send", "application/json", """{"from":"from@example.com","to":["to@example.com","@@"],"subject":"s","content":"c"}""", 400 },
        { "empty recipients", "/api/mail/send", "application/json", """{"from":"from@example.com","to":[],"subject":"s","content":"c"}""", 400 },
        { "missing recipients", "/api/mail/send", "application/json", """{"from":"from@example.com","subject":"s","content":"c"}""", 400 },
        { "null recipient", "/api/mail/send", "application/json", """{"from":"from@example.com","to":[null],"subject":"s","content":"c"}""", 400 },
        { "wrong type", "/api/mail/send", "application/json", """{"from":"from@example.com","to":"to@example.com","subject":"s","content":"c"}""", 400 },
        { "non-ASCII address", "/api/mail/send", "application/json", """{"from":"frö@example.com","to":["to@example.com"],"subject":"s","content":"c"}""", 400 },
        { "subject too long", "/api/mail/send", "application/json", $$"""{"from":"from@example.com","to":["to@example.com"],"subject":"{{new string('s', 1000)}}","content":"c"}""", 400 },
        { "user: invalid email", "/api/v1/users", "application/json", """{"email":"nope","password":"long enough password"}""", 400 },
        { "user: display-name email", "/api/v1/users", "application/json", """{"email":"\"X\" <x@example.com>","password":"long enough password"}""", 400 },
        { "user: short password", "/api/v1/users", "application/json", """{"email":"x@example.com","password":"short"}""", 400 },
        { "user: wrong content type", "/api/v1/users", "text/plain", """{"email":"x@example.com","password":"long enough password"}""", 415 },
        { "customer: CR/LF in name", "/customers", "application/json", """{"email":"c@example.com","name":"a\r\nb"}""", 400 },
        { "customer: missing name", "/customers", "application/json", """{"email":"c@example.com"}""", 400 },
        { "customer: invalid JSON", "/customers", "application/json", "{'email':1}", 400 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Api_HostileOrMalformedRequest_Answers4xxProblemAndStoresNothing(string name, string path, string contentType, string body, int expected)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await _service.Client.PostAsync(path, content);

        Assert.True(expected == (int)response.StatusCode, $"{name}: expected {expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        await AssertProblemAsync(response, expected);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task Api_TenMegabyteBody_Answers413AndStoresNothing()
    {
        var padding = new string('x', 10 * 1024 * 1024);
        using var content = new StringContent($$"""{"from":"from@example.com","to":["to@example.com"],"subject":"s","content":"{{padding}}"}""", Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/mail/send") { Content = content };
        // As curl does for large bodies: the server answers before the body is sent.
        request.Headers.ExpectContinue = true;
        using var response = await _service.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertProblemAsync(response, 413);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task Api_TenMegabyteChunkedBody_Answers413AndStoresNothing()
    {
        // No Content-Length: the limit is enforced while reading.
        var padding = new string('x', 10 * 1024 * 1024);
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"from":"from@example.com","to":["to@example.com"],"subject":"s","content":"{{padding}}"}""")));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/mail/send") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        HttpResponseMessage response;
        try
        {
            response = await _service.Client.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            // The server may close the connection while the client is still sending: nothing may have been stored either way.
            await AssertNothingStoredAsync();
            return;
        }

        using (response)
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        await AssertNothingStoredAsync();
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, int status)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
    }

    private async Task AssertNothingStoredAsync()
    {
        foreach (var table in new[] { "mail_deliveries", "users", "notifications", "customers", "postbox_outbox" })
        {
            Assert.Equal(0, await _service.CountAsync(table));
        }
    }
}
