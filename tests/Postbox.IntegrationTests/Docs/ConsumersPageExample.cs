// The registration example of docs/consumers.md, compiled with only the usings the page shows (and the SDK's implicit
// ones). DocsExampleTests checks that the page shows it unchanged.
// DOCS:usings:begin
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Postbox.Consumers; // IMessageHandler<T>, MessageContext, MessageOrdering
using Postbox.Relay;     // DeadKeyPolicy
using Postbox.Retry;     // RetryPolicy
// DOCS:usings:end

namespace Postbox.IntegrationTests.Docs.ConsumersPage;

public static class ConsumersPageExample
{
    public static void Register(IServiceCollection services, string connectionString, string amqp)
    {
        // DOCS:register:begin
        services.AddPostbox(o => o.Relay.Enabled = false)          // a worker-only process
            .UsePostgreSql(connectionString)                        // the handlers' database; brings the inbox (retries, dead letters)
            .UseRabbitMQConsumers(o => o.ConnectionString = amqp)   // or .UseInMemoryConsumerSource()
            .ConfigureConsumers(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20))
            .AddHandler<SendMail, SendMailHandler>("mail.send", o =>
            {
                o.ConsumerName = "mail-sender";    // the inbox key: keep it stable
                o.Concurrency = 12;                // also the broker prefetch
                o.Timeout = TimeSpan.FromMinutes(1);
                o.MaxAttempts = 25;
                o.RetryPolicy = RetryPolicy.Asynq; // n^4 + 15 + rand(0..29)*(n+1) s
                o.Ordering = MessageOrdering.ByKey; // the default: a key's messages one at a time, in order
                o.DeadKeyPolicy = DeadKeyPolicy.Block; // the default: a dead letter stops its key until replayed
            });
        // DOCS:register:end
    }
}

public sealed record SendMail(Guid DeliveryId);

public sealed class MyRepository
{
    public List<Guid> Queued { get; } = [];

    public Task MarkQueuedAsync(NpgsqlTransaction transaction, SendMail message, CancellationToken ct)
    {
        Queued.Add(message.DeliveryId);
        return Task.CompletedTask;
    }
}

// DOCS:handler:begin
sealed class SendMailHandler(MyRepository repository) : IMessageHandler<SendMail>
{
    public async Task HandleAsync(SendMail message, MessageContext context, CancellationToken ct)
    {
        // Join the inbox transaction: this write and the inbox row commit together.
        await repository.MarkQueuedAsync((NpgsqlTransaction)context.Transaction, message, ct);
    }
}
// DOCS:handler:end
