using System.Globalization;
using Npgsql;
using Postbox.Consumers;

namespace Postbox.TestWorker;

/// <summary>The payload the tests publish.</summary>
internal sealed record WorkItem(string Body);

/// <summary>Sleeps (WORKER_DELAY_MS), then writes an effect row through the inbox transaction.</summary>
internal sealed class EffectHandler : IMessageHandler<WorkItem>
{
    // "N" sleeps N ms; "MIN-MAX" sleeps a random time in that range (per message).
    private static readonly string Delay = Environment.GetEnvironmentVariable("WORKER_DELAY_MS") ?? "0";
    private static readonly int DelayMs = int.Parse(Delay.Split('-')[0], CultureInfo.InvariantCulture);
    private static readonly int DelayMaxMs = Delay.Contains('-', StringComparison.Ordinal) ? int.Parse(Delay.Split('-')[1], CultureInfo.InvariantCulture) : DelayMs;

    public async Task HandleAsync(WorkItem message, MessageContext context, CancellationToken cancellationToken)
    {
        Console.WriteLine($"STARTED {context.MessageId}");
#pragma warning disable CA5394 // Test delays, not security.
        var delay = DelayMaxMs > DelayMs ? Random.Shared.Next(DelayMs, DelayMaxMs + 1) : DelayMs;
#pragma warning restore CA5394
        if (delay > 0)
        {
            await Task.Delay(delay, cancellationToken);
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
