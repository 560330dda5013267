using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>api, relay and worker as separate processes on PostgreSQL, RabbitMQ and a real SMTP server (aiosmtpd).</summary>
public sealed class DistributedTests : IAsyncLifetime
{
    // These tests republish a delivered outbox message (what a relay that crashed between publish and settle sends) and
    // read the welcome mail's row after the relay may have sent it, so the relay keeps the delivered history; by default
    // it deletes each message on confirm.
    private readonly DistributedService _service = new(maxAttempts: 3) { RelayArguments = [KeepDelivered] };

    internal const string KeepDelivered = "--Postbox:Relay:DeliveredRetention=01:00:00";

    public Task InitializeAsync() => _service.StartAsync();

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task Distributed_SendMail_ArrivesAtSmtpServer_SameOutboxMessageTwiceStillOneMail()
    {
        var id = await _service.SendMailAsync("Test Subject");
        await _service.WaitForMailStatusAsync(id, "sent");
        var messageId = $"<mail.{id:N}@postbox.local>";
        Assert.Equal(1, _service.Smtp.CountWithMessageId(messageId));
        Assert.Contains("Subject: Test Subject", Assert.Single(_service.Smtp.Mails()), StringComparison.Ordinal);

        // The same outbox message delivered again (what a relay crash after publish and before marking does): the inbox
        // recognises it. Then a different message for the same delivery: the check-and-set on mail_deliveries skips it.
        var outboxId = await _service.ScalarAsync<Guid>($"SELECT message_id FROM {{schema}}.mail_deliveries WHERE id = '{id}'");
        var (_, topic, type, payload) = await _service.OutboxMessageAsync(outboxId);
        await _service.PublishAsync(outboxId, topic, type, payload);
        await _service.Worker.WaitForLineAsync($"Message {outboxId} is already recorded for mail-sender", TimeSpan.FromSeconds(30));
        var other = Guid.CreateVersion7();
        await _service.PublishAsync(other, topic, type, payload);
        await _service.Worker.WaitForLineAsync($"is already sent (or unknown): message {other} sends nothing", TimeSpan.FromSeconds(30));

        Assert.Equal(1, _service.Smtp.CountWithMessageId(messageId));
        var status = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal("sent", status.GetProperty("status").GetString());
        Assert.Equal(1, status.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task Distributed_SmtpServerDown_AttemptsAndErrorsRecordedThenFailed_ServerBackNewMailDelivered()
    {
        await _service.Smtp.StopAsync();
        var id = await _service.SendMailAsync("Test Mail Server Is DOWN");
        await _service.WaitForMailStatusAsync(id, "failed");

        var status = await _service.GetJsonAsync($"/api/mail/{id}");
        var attempts = _service.MaxAttempts;
        Assert.Equal(attempts, status.GetProperty("attempts").GetInt32());
        var errors = status.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(attempts, errors.Count);
        Assert.Equal(Enumerable.Range(1, attempts), errors.Select(e => e.GetProperty("attempt").GetInt32()));
        Assert.All(errors, e => Assert.Contains("SMTP", e.GetProperty("error").GetString(), StringComparison.Ordinal));
        Assert.All(errors, e => Assert.True(e.GetProperty("at").GetDateTimeOffset() >= status.GetProperty("createdAt").GetDateTimeOffset()));
        Assert.False(string.IsNullOrEmpty(status.GetProperty("lastError").GetString()));
        Assert.NotEqual(JsonValueKind.Null, status.GetProperty("finishedAt").ValueKind);
        // The runtime dead-lettered it too: kept, visible, replayable.
        Assert.Equal(3, await _service.ScalarAsync<short>($"SELECT state FROM {{schema}}.inbox WHERE consumer = 'mail-sender' AND message_id = (SELECT message_id FROM {{schema}}.mail_deliveries WHERE id = '{id}')"));

        await _service.Smtp.StartAsync();
        var next = await _service.SendMailAsync("Server is back");
        await _service.WaitForMailStatusAsync(next, "sent");
        Assert.Equal(1, _service.Smtp.CountWithMessageId($"<mail.{next:N}@postbox.local>"));
        Assert.Equal(0, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
    }

    [Fact]
    public async Task Distributed_SmtpAnswers451ThenRecovers_RetriedUntilSent()
    {
        // The server answers 451 to the first attempt only, then accepts.
        await File.WriteAllTextAsync(Path.Combine(_service.Smtp.Folder, "reply"), "451 4.3.0 Try again later\n1");
        var id = await _service.SendMailAsync("Transient failure");
        await _service.WaitForMailStatusAsync(id, "sent");

        var status = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal(2, status.GetProperty("attempts").GetInt32());
        Assert.Contains("451", Assert.Single(status.GetProperty("errors").EnumerateArray()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, status.GetProperty("lastError").ValueKind);
        Assert.Equal(1, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
    }

    [Fact]
    public async Task Distributed_RegisterUser_HashNotPasswordDuplicate409WelcomeMailDelivered()
    {
        const string Password = "this-sample-password";
        using var created = await _service.Client.PostAsJsonAsync("/api/v1/users", new { email = "faris@example.com", password = Password });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var userId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        using var duplicate = await _service.Client.PostAsJsonAsync("/api/v1/users", new { email = "faris@example.com", password = Password });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);

        var hash = await _service.ScalarAsync<string>("SELECT password_hash FROM {schema}.users WHERE email = 'faris@example.com'");
        Assert.NotNull(hash);
        Assert.NotEqual(Password, hash);
        Assert.DoesNotContain(Password, hash, StringComparison.Ordinal);
        Assert.Equal(1L, await _service.ScalarAsync<long>("SELECT count(*) FROM {schema}.users"));
        Assert.Equal(1L, await _service.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox WHERE topic = 'users.welcome'"));

        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/api/v1/users/{userId}")).GetProperty("welcomeMail").GetString() == "sent",
            TimeSpan.FromSeconds(60), "the welcome mail");
        var mail = Assert.Single(_service.Smtp.Mails());
        Assert.Contains("To: faris@example.com", mail, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, mail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Distributed_CustomerCreatedDeliveredTwice_HandledOnce()
    {
        using var created = await _service.Client.PostAsJsonAsync("/customers", new { email = "test@example.com", name = "TESTTTTTT" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/customers/{id}")).GetProperty("eventHandledCount").GetInt32() == 1,
            TimeSpan.FromSeconds(60), "CustomerCreated to be handled");
        await _service.Worker.WaitForLineAsync($"Handling CustomerCreated for customer {id} (TESTTTTTT)", TimeSpan.FromSeconds(10));

        var outboxId = await _service.ScalarAsync<Guid>("SELECT id FROM {schema}.outbox WHERE topic = 'customers.created'");
        var (_, topic, type, payload) = await _service.OutboxMessageAsync(outboxId);
        await _service.PublishAsync(outboxId, topic, type, payload);
        await _service.Worker.WaitForLineAsync($"Message {outboxId} is already recorded for customer-created-logger", TimeSpan.FromSeconds(30));

        Assert.Equal(1, (await _service.GetJsonAsync($"/customers/{id}")).GetProperty("eventHandledCount").GetInt32());
        Assert.Equal(1, _service.Worker.CountLines($"Handling CustomerCreated for customer {id}"));
    }

    [Fact]
    public async Task Distributed_Sigterm_EveryRoleExitsCleanly()
    {
        var id = await _service.SendMailAsync("Before shutdown");
        await _service.WaitForMailStatusAsync(id, "sent");
        foreach (var process in new[] { _service.Api, _service.Relay, _service.Worker })
        {
            await process.TerminateAsync();
            Assert.True(process.ExitCode == 0, $"{process.Role} exited with {process.ExitCode}:\n{process.Output}");
        }

        Assert.Contains("Consumers stopped", _service.Worker.Output, StringComparison.Ordinal);
    }
}
