using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>api, relay and worker as separate processes on MariaDB (Postbox.MySql), RabbitMQ and a real SMTP server.</summary>
public sealed class MySqlDistributedTests : IAsyncLifetime
{
    // The test reads and republishes the delivered outbox row (see DistributedTests).
    private readonly DistributedService _service = new(maxAttempts: 3, mySql: true) { RelayArguments = [DistributedTests.KeepDelivered] };

    public Task InitializeAsync() => _service.StartAsync();

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task MySql_CustomerCreated_RelayedThroughRabbitMQ_HandledOnce_EvenWhenDeliveredTwice()
    {
        using var created = await _service.Client.PostAsJsonAsync("/customers", new { email = "test@example.com", name = "TESTTTTTT" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await TestEnvironment.WaitUntilAsync(async () => (await _service.GetJsonAsync($"/customers/{id}")).GetProperty("eventHandledCount").GetInt32() == 1,
            TimeSpan.FromSeconds(60), "CustomerCreated to be handled");
        await _service.Worker.WaitForLineAsync($"Handling CustomerCreated for customer {id} (TESTTTTTT)", TimeSpan.FromSeconds(10));
        Assert.Equal(1, await _service.ScalarAsync<sbyte>("SELECT state FROM {schema}.outbox WHERE topic = 'customers.created'"));

        // The same outbox message again, as a relay that crashed after publishing and before settling would send it.
        var outboxId = await _service.ScalarAsync<Guid>("SELECT id FROM {schema}.outbox WHERE topic = 'customers.created'");
        var (_, topic, type, payload) = await _service.OutboxMessageAsync(outboxId);
        await _service.PublishAsync(outboxId, topic, type, payload);
        await _service.Worker.WaitForLineAsync($"Message {outboxId} is already recorded for customer-created-logger", TimeSpan.FromSeconds(30));

        Assert.Equal(1, (await _service.GetJsonAsync($"/customers/{id}")).GetProperty("eventHandledCount").GetInt32());
        Assert.Equal(1, _service.Worker.CountLines($"Handling CustomerCreated for customer {id}"));

        // The address is unique: a second customer with it is refused (INSERT IGNORE on MySQL), and nothing is enqueued.
        using var again = await _service.Client.PostAsJsonAsync("/customers", new { email = "test@example.com", name = "Other" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(1L, await _service.ScalarAsync<long>("SELECT count(*) FROM {schema}.outbox"));
    }

    [Fact]
    public async Task MySql_SendMail_ArrivesAtSmtpServerOnce()
    {
        var id = await _service.SendMailAsync("Over MariaDB");
        await _service.WaitForMailStatusAsync(id, "sent");

        Assert.Equal(1, _service.Smtp.CountWithMessageId($"<mail.{id:N}@postbox.local>"));
        var status = await _service.GetJsonAsync($"/api/mail/{id}");
        Assert.Equal(1, status.GetProperty("attempts").GetInt32());
    }
}
