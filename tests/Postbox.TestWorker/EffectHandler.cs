using System.Globalization;
using Npgsql;
using Postbox.Consumers;

namespace Postbox.TestWorker;

/// <summary>The payload the tests publish.</summary>
internal sealed record WorkItem(string Body);

/// <summary>Sleeps (WORKER_DELAY_MS), then writes an effect row through the inbox transaction.</summary>
internal sealed class EffectHandler : IMessageHandler<WorkItem>
{
    private static readonly int DelayMs = int.Parse(Environment.GetEnvironmentVariable("WORKER_DELAY_MS") ?? "0", CultureInfo.InvariantCulture);

    public async Task HandleAsync(WorkItem message, MessageContext context, CancellationToken cancellationToken)
    {
        Console.WriteLine($"STARTED {context.MessageId}");
        if (DelayMs > 0)
        {
            await Task.Delay(DelayMs, cancellationToken);
        }

        var schema = Environment.GetEnvironmentVariable("WORKER_SCHEMA");
        await using var command = new NpgsqlCommand($"INSERT INTO \"{schema}\".effects (message_id, body) VALUES ($1, $2)",
            (NpgsqlConnection)context.Connection, (NpgsqlTransaction)context.Transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = context.MessageId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Body });
        await command.ExecuteNonQueryAsync(cancellationToken);
        Console.WriteLine($"DONE {context.MessageId}");
    }
}
