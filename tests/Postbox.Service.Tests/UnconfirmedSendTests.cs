using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// The window after the end of a mail's data: the SMTP server has the mail, the worker has not yet learned so. The sink's
/// <c>hold</c> file keeps its answer back (the mail is saved first), so each test puts a worker exactly in that window, then
/// kills it or lets its answer time out. Production shape: api, relay and worker processes, PostgreSQL and RabbitMQ.
/// </summary>
public sealed class UnconfirmedSendTests : IAsyncLifetime
{
    private DistributedService _service = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        File.Delete(HoldFile);
        await _service.DisposeAsync();
    }

    private string HoldFile => Path.Combine(_service.Smtp.Folder, "hold");

    private async Task StartAsync(params string[] workerArguments)
    {
        _service = new DistributedService(maxAttempts: 6) { WorkerArguments = workerArguments };
        await _service.StartAsync();
    }

    [Fact]
    public async Task Worker_KilledAfterEndOfDataBeforeTheAnswer_MailHeldAsUnconfirmed_TheServerHasItOnce()
    {
        await StartAsync();
        await File.WriteAllTextAsync(HoldFile, "");
        var id = await _service.SendMailAsync("Killed in the window");
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(_service.Smtp.Mails().Count == 1), TimeSpan.FromSeconds(60),
            $"the server to have the mail. Worker:\n{_service.Worker.Output}");

        await _service.Worker.KillAsync();
        File.Delete(HoldFile);
        var next = _service.Track(_service.StartWorker());
        await _service.WaitForMailStatusAsync(id, "unconfirmed");

        var mail = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal(1, mail.GetProperty("attempts").GetInt32());
        Assert.Contains("Unconfirmed", mail.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Single(mail.GetProperty("errors").EnumerateArray());
        Assert.Equal(1, next.CountLines("held as unconfirmed"));
        // A second delivery of the same message (the inbox has it processed) or a later look changes nothing.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
        Assert.Equal("unconfirmed", (await _service.GetJsonAsync($"/api/mail/{id}")).GetProperty("status").GetString());

        // The operator decides: resend it. It goes out once more and is sent.
        using (var resend = await _service.Client.PostAsync($"/api/mail/{id}/resend", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, resend.StatusCode);
        }

        await _service.WaitForMailStatusAsync(id, "sent");
        Assert.Equal(2, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
        using (var again = await _service.Client.PostAsync($"/api/mail/{id}/resend", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }

        using (var unknown = await _service.Client.PostAsync($"/api/mail/{Guid.NewGuid()}/resend", null))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }
    }

    [Fact]
    public async Task Worker_KilledAfterEndOfDataBeforeTheAnswer_UnderResend_MailSentAgain()
    {
        // The other policy, and the proof that the window is real: the same kill, and the mail arrives twice.
        await StartAsync("--unconfirmed-sends", "resend");
        await File.WriteAllTextAsync(HoldFile, "");
        var id = await _service.SendMailAsync("Killed in the window, resent");
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(_service.Smtp.Mails().Count == 1), TimeSpan.FromSeconds(60),
            $"the server to have the mail. Worker:\n{_service.Worker.Output}");

        await _service.Worker.KillAsync();
        File.Delete(HoldFile);
        _service.Track(_service.StartWorker());
        await _service.WaitForMailStatusAsync(id, "sent");
        Assert.Equal(2, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
        Assert.Equal(2, (await _service.GetJsonAsync($"/api/mail/{id}")).GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task Smtp_NoAnswerAfterEndOfData_AttemptTimesOut_HeldNotRetried()
    {
        await StartAsync("--Mail:Smtp:Timeout=00:00:04");
        await File.WriteAllTextAsync(HoldFile, "");
        var id = await _service.SendMailAsync("No answer");
        await _service.WaitForMailStatusAsync(id, "unconfirmed");
        File.Delete(HoldFile);

        // The time-out covers the whole conversation: on a loaded machine an earlier attempt may run out of it before the
        // end of data (a plain failure, retried, nothing at the server). Only the attempt that reached it is held.
        var mail = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.InRange(mail.GetProperty("attempts").GetInt32(), 1, 5);
        Assert.Equal("No answer from the SMTP server after the end of the mail was sent: no answer within 00:00:04 (Mail:Smtp:Timeout).", mail.GetProperty("lastError").GetString());
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
        Assert.Equal(1, _service.Worker.CountLines("held as unconfirmed"));
    }

    [Fact]
    public async Task Smtp_TemporaryRefusalOfTheData_IsAnAnswer_RetriedAndSentNotHeld()
    {
        // The neighbour: a 451 after the end of data is the server's answer (it does not have the mail), never "unconfirmed".
        await StartAsync();
        await File.WriteAllTextAsync(Path.Combine(_service.Smtp.Folder, "reply"), "451 4.3.0 Try again later\n2");
        var id = await _service.SendMailAsync("Refused twice");
        await _service.WaitForMailStatusAsync(id, "sent");
        var mail = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal(3, mail.GetProperty("attempts").GetInt32());
        Assert.Equal(1, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
        Assert.Equal(JsonValueKind.Null, mail.GetProperty("lastError").ValueKind);
    }

    [Fact]
    public async Task Smtp_ServerHangsUpAtTheEndOfData_NotUnconfirmed_RetriedAndSentOnce()
    {
        // The neighbour on the other side: the server closes the connection instead of answering (it crashed, or was
        // stopped). It never took the mail (RFC 5321 6.1: responsibility comes with the reply), so the mail is retried.
        await StartAsync();
        await File.WriteAllTextAsync(Path.Combine(_service.Smtp.Folder, "drop"), "2");
        var id = await _service.SendMailAsync("Hung up on twice");
        await _service.WaitForMailStatusAsync(id, "sent");
        var mail = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal(3, mail.GetProperty("attempts").GetInt32());
        Assert.Equal(1, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
        Assert.Equal(0, _service.Worker.CountLines("held as unconfirmed"));
    }

    [Fact]
    public async Task WelcomeMail_WorkerKilledAfterEndOfDataBeforeTheAnswer_HeldAsUnconfirmed_TheServerHasItOnce()
    {
        // Every path that sends mail shares the mechanism: the welcome mail of a registration too.
        await StartAsync();
        await File.WriteAllTextAsync(HoldFile, "");
        using var created = await _service.Client.PostAsJsonAsync("/api/v1/users", new { email = "held@example.com", password = "a long enough password" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var user = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(_service.Smtp.Mails().Count == 1), TimeSpan.FromSeconds(60),
            $"the server to have the welcome mail. Worker:\n{_service.Worker.Output}");

        await _service.Worker.KillAsync();
        File.Delete(HoldFile);
        var next = _service.Track(_service.StartWorker());
        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/api/v1/users/{user}")).GetProperty("welcomeMail").GetString() == "unconfirmed",
            TimeSpan.FromSeconds(60), $"the welcome mail to be held. Worker:\n{next.Output}");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Single(_service.Smtp.Mails());
        Assert.Equal(1, next.CountLines("held as unconfirmed"));
    }
}
