using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
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
        { "charset iso-8859-1", "/api/mail/send", "application/json; charset=iso-8859-1", ValidMail, 415 },
        { "charset utf-16", "/api/mail/send", "application/json; charset=utf-16", ValidMail, 415 },
        { "user: charset latin1", "/api/v1/users", "application/json; charset=latin1", """{"email":"x@example.com","password":"long enough password"}""", 415 },
        { "customer: charset windows-1252", "/customers", "application/json;charset=windows-1252", """{"email":"c@example.com","name":"n"}""", 415 },
    };

    /// <summary>Recipient entries that are not exactly one mailbox; the bad one is always <c>to[1]</c>, after a good one.</summary>
    public static TheoryData<string> NotOneMailbox => new()
    {
        "a@example.com, b@example.com", // the reported one: read as display name "a@example.com," plus b
        "a@example.com,b@example.com",
        "a@example.com; b@example.com",
        "a@example.com b@example.com",
        "Name <a@example.com>, b@example.com",
        "\"A\" <a@example.com> <b@example.com>",
        "a@example.com <b@example.com>", // a display name that reads as another address
        "team: a@example.com, b@example.com;", // group syntax
        "team:;",
        "a@example.com (comment)",
        "(comment) a@example.com",
        "<@route.example:a@example.com>",
        "\"unterminated <a@example.com>",
        "",
        "   ",
        "nodomain",
        "a@",
        "@example.com",
        "<>",
        "Name <>",
    };

    [Theory]
    [InlineData("GET", "/api/mail/not-a-uuid")]
    [InlineData("POST", "/api/mail/not-a-uuid/resend")]
    [InlineData("GET", "/api/mail/01a22ab9-e7ad-7a95-98e4-54bc4029ff2")]
    [InlineData("GET", "/api/mail/01a22ab9-e7ad-7a95-98e4-54bc4029ff2e0")]
    [InlineData("GET", "/api/mail/%20")]
    [InlineData("GET", "/api/v1/users/12345")]
    [InlineData("GET", "/customers/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz")]
    public async Task Api_MalformedIdInTheRoute_400NamingTheId(string method, string path)
    {
        // A route constraint would answer a bare 404: a malformed id is bad input like any other field.
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await _service.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("id", out _), await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(NotOneMailbox))]
    public async Task Mail_RecipientEntryNotExactlyOneMailbox_400NamingTheEntry(string entry)
    {
        using var response = await PostJsonAsync("/api/mail/send", JsonSerializer.Serialize(new { from = "from@example.com", to = new[] { "ok@example.com", entry }, subject = "s", content = "c" }));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"'{entry}': {(int)response.StatusCode} {body}");
        var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty("to[1]", out _), $"'{entry}': the error does not name to[1]: {body}");
        Assert.False(errors.TryGetProperty("to[0]", out _), body);
        await AssertNothingStoredAsync();
    }

    [Theory]
    [InlineData("a, b <from@example.com>")]
    [InlineData("from@example.com, other@example.com")]
    [InlineData("group: from@example.com;")]
    public async Task Mail_FromNotExactlyOneMailbox_400NamingFrom(string from)
    {
        using var response = await PostJsonAsync("/api/mail/send", JsonSerializer.Serialize(new { from, to = new[] { "ok@example.com" }, subject = "s", content = "c" }));

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty("from", out _), body);
        await AssertNothingStoredAsync();
    }

    // RFC 5321 4.5.3.1: local part 64, domain 255, path 256 (so 254 for the address); RFC 1035: a label 63.
    private static readonly string Local65 = new('l', 65);
    private static readonly string Label64 = new('d', 64);
    private static readonly string Domain257 = string.Join('.', Enumerable.Repeat(new string('d', 63), 4)) + ".c"; // 4·63 + 3 + 2 = 257
    private static readonly string Address255 = new string('l', 64) + "@" + string.Join('.', Enumerable.Repeat(new string('d', 62), 3)) + ".d"; // 64 + 1 + 190

    public static TheoryData<string, string, string> OverLongAddresses => new()
    {
        // path, body, field the error must name
        { "/api/mail/send", JsonSerializer.Serialize(new { from = "from@example.com", to = new[] { new string('l', 300) + "@example.com" }, subject = "s", content = "c" }), "to[0]" },
        { "/api/mail/send", JsonSerializer.Serialize(new { from = "from@example.com", to = new[] { "ok@example.com", Local65 + "@example.com" }, subject = "s", content = "c" }), "to[1]" },
        { "/api/mail/send", JsonSerializer.Serialize(new { from = $"Name <{Local65}@example.com>", to = new[] { "ok@example.com" }, subject = "s", content = "c" }), "from" },
        { "/api/mail/send", JsonSerializer.Serialize(new { from = "from@example.com", to = new[] { $"x@{Label64}.com" }, subject = "s", content = "c" }), "to[0]" },
        { "/api/mail/send", JsonSerializer.Serialize(new { from = "from@example.com", to = new[] { $"x@{Domain257}" }, subject = "s", content = "c" }), "to[0]" },
        { "/api/mail/send", JsonSerializer.Serialize(new { from = "from@example.com", to = new[] { Address255 }, subject = "s", content = "c" }), "to[0]" },
        { "/api/v1/users", JsonSerializer.Serialize(new { email = Local65 + "@example.com", password = "long enough password" }), "email" },
        { "/customers", JsonSerializer.Serialize(new { email = Local65 + "@example.com", name = "n" }), "email" },
    };

    [Theory]
    [MemberData(nameof(OverLongAddresses))]
    public async Task Api_AddressBeyondRfc5321Limits_400NamingTheField(string path, string body, string field)
    {
        using var response = await PostJsonAsync(path, body);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{body}: {(int)response.StatusCode} {text}");
        Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out var errors), text);
        Assert.Contains("RFC", errors.ToString(), StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    public static TheoryData<string, string, string> Credentials => new()
    {
        // path, body, field the error must name
        { "/api/v1/users", """{"email":"x@example.com","password":"long enough\u0000password"}""", "password" },
        { "/api/v1/users", """{"email":"x@example.com","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}""", "password" },
        { "/api/v1/users", """{"email":"x@example.com","password":"long enough\tpassword"}""", "password" },
        { "/api/v1/users", """{"email":"x@example.com","password":"long enough\u001bpassword"}""", "password" },
        { "/api/v1/users", """{"email":"x@example.com","password":"long enough\u007fpassword"}""", "password" },
        { "/api/v1/users", """{"email":"x@example.com","password":"long enough\ud800password"}""", "password" },
        { "/api/v1/users", """{"email":"x@example.com\u0000","password":"long enough password"}""", "email" },
        { "/api/v1/users", """{"email":"x\u0000@example.com","password":"long enough password"}""", "email" },
        { "/customers", """{"email":"c@example.com\u0000","name":"n"}""", "email" },
        { "/customers", """{"email":"c@example.com","name":"n\u0000"}""", "name" },
    };

    [Theory]
    [MemberData(nameof(Credentials))]
    public async Task Api_ControlCharacterInCredentialOrName_400NamingTheField(string path, string body, string field)
    {
        using var response = await PostJsonAsync(path, body);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{body}: {(int)response.StatusCode} {text}");
        Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out _), text);
        await AssertNothingStoredAsync();
    }

    public static TheoryData<string, string, string> BadJson
    {
        get
        {
            var deep = new string('[', 10_000) + new string(']', 10_000);
            var data = new TheoryData<string, string, string>();
            foreach (var (path, valid, stringField, arrayField) in new[]
                     {
                         ("/api/mail/send", ValidMail, "subject", "to"),
                         ("/api/v1/users", """{"email":"x@example.com","password":"long enough password"}""", "password", (string?)null),
                         ("/customers", """{"email":"c@example.com","name":"n"}""", "name", null),
                     })
            {
                var open = valid.TrimEnd('}');
                data.Add(path, $$"""{"{{stringField}}":42}""", stringField);
                data.Add(path, $$"""{"{{stringField}}":true}""", stringField);
                data.Add(path, "{\"" + stringField + "\":{\"a\":1}}", stringField);
                data.Add(path, $$"""{"{{stringField}}":["x"]}""", stringField);
                data.Add(path, $$"""{"email":12.5}""".Replace("email", path == "/api/mail/send" ? "from" : "email", StringComparison.Ordinal), path == "/api/mail/send" ? "from" : "email");
                data.Add(path, valid + " x", "body");
                data.Add(path, valid + "{}", "body");
                data.Add(path, open + ""","zzz":1}""", "zzz");
                data.Add(path, $$"""{"{{stringField}}":"a","{{stringField}}":"b"}""", stringField);
                data.Add(path, "{\"" + stringField + "\":" + deep + "}", stringField);
                data.Add(path, deep, "body");
                data.Add(path, "[]", "body");
                data.Add(path, "\"a string\"", "body");
                data.Add(path, "42", "body");
                data.Add(path, "{", "body");
                data.Add(path, "", "body");
                if (arrayField is not null)
                {
                    data.Add(path, $$"""{"{{arrayField}}":"one@example.com"}""", arrayField);
                    data.Add(path, $$"""{"{{arrayField}}":[1]}""", arrayField + "[0]");
                    data.Add(path, $$"""{"{{arrayField}}":["a@example.com",{"x":1}]}""", arrayField + "[1]");
                    data.Add(path, $$"""{"{{arrayField}}":null,"from":"from@example.com","subject":"s","content":"c"}""", arrayField);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(BadJson))]
    public async Task Api_BadJson_400NamesTheJsonFieldNeverADotNetType(string path, string body, string field)
    {
        using var response = await PostJsonAsync(path, body);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path} {body[..Math.Min(body.Length, 80)]}: {(int)response.StatusCode} {text}");
        foreach (var dotnet in new[] { "System.", "Postbox.", "String[]", "Request", ".NET", "Int32", "Boolean" })
        {
            Assert.DoesNotContain(dotnet, text, StringComparison.Ordinal);
        }

        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        // The field itself, or a path below it (to[0], subject[0]...) where the JSON went wrong.
        Assert.True(errors.EnumerateObject().Any(e => e.Name == field || e.Name.StartsWith(field + "[", StringComparison.Ordinal) || e.Name.StartsWith(field + ".", StringComparison.Ordinal)),
            $"{path} {body[..Math.Min(body.Length, 80)]}: expected an error for '{field}': {text}");
        await AssertNothingStoredAsync();
    }

    private async Task<HttpResponseMessage> PostJsonAsync(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        return await _service.Client.PostAsync(path, content);
    }

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
