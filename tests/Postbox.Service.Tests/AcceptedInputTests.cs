using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>The neighbours of the refused inputs that must stay accepted, and what the written mail looks like.</summary>
public sealed class AcceptedInputTests : IAsyncLifetime
{
    private InProcessService _service = null!;

    public async Task InitializeAsync() => _service = await InProcessService.StartAsync();

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("application/json;charset=\"utf-8\"")]
    [InlineData("application/json")]
    public async Task Mail_Utf8OrNoCharset_Accepted(string contentType)
    {
        using var content = new StringContent("""{"from":"from@example.com","to":["to@example.com"],"subject":"Grüße","content":"c"}""", Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await _service.Client.PostAsync("/api/mail/send", content);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{contentType}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Mail_AddressesAtRfc5321Limits_Accepted()
    {
        // Local part 64, a 63-character label, and an address of exactly 254 (64 + 1 + 189): the largest allowed.
        var local64 = new string('l', 64);
        var address254 = local64 + "@" + new string('d', 62) + "." + new string('d', 62) + "." + new string('d', 61) + ".d";
        var id = await SendAsync($"Name <{local64}@example.com>", [$"x@{new string('d', 63)}.com", address254], "Limits", "c");

        var eml = await WaitForEmlAsync(id);
        Assert.Contains(address254, eml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mail_DisplayNamesOneMailboxPerEntry_AllRecipientsInTheWrittenMail()
    {
        var id = await SendAsync("Sender Name <from@example.com>", ["Jane Doe <jane@example.com>", "\"Doe, John\" <john@example.com>", "plain@example.com"], "Hello", "Hi.");

        var eml = await WaitForEmlAsync(id);
        using var message = MimeKit.MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(eml)));
        // Three recipients, the quoted comma kept inside its display name.
        Assert.Equal(["jane@example.com", "john@example.com", "plain@example.com"], message.To.Mailboxes.Select(m => m.Address));
        Assert.Equal(["Jane Doe", "Doe, John", ""], message.To.Mailboxes.Select(m => m.Name ?? string.Empty));
        Assert.Equal("Sender Name", message.From.Mailboxes.Single().Name);
        var status = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal(3, status.GetProperty("to").GetArrayLength());
    }

    [Fact]
    public async Task Mail_WrittenEml_TextReadableNotBase64()
    {
        var ascii = await SendAsync("from@example.com", ["to@example.com"], "Plain", "Hello there,\nthis is plain text.\n");
        var text = await WaitForEmlAsync(ascii);
        Assert.DoesNotContain("base64", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("this is plain text.", text, StringComparison.Ordinal);
        Assert.Contains("charset=utf-8", text, StringComparison.OrdinalIgnoreCase);

        var german = await SendAsync("from@example.com", ["to@example.com"], "Grüße", "Grüße aus Köln\nzweite Zeile\n");
        text = await WaitForEmlAsync(german);
        Assert.DoesNotContain("base64", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Content-Transfer-Encoding: quoted-printable", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Gr=C3=BC=C3=9Fe aus K=C3=B6ln", text, StringComparison.Ordinal);
        Assert.Contains("zweite Zeile", text, StringComparison.Ordinal);
    }

    private async Task<Guid> SendAsync(string from, string[] to, string subject, string content)
    {
        using var response = await _service.Client.PostAsJsonAsync("/api/mail/send", new { from, to, subject, content });
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<string> WaitForEmlAsync(Guid id)
    {
        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/api/mail/{id}")).GetProperty("status").GetString() == "sent",
            TimeSpan.FromSeconds(30), $"mail {id} to be sent");
        return await File.ReadAllTextAsync(Assert.Single(Directory.GetFiles(_service.MailFolder, $"*-mail-{id:N}.eml")));
    }
}
