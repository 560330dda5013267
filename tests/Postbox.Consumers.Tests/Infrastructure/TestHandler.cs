using System.Collections.Concurrent;
using Npgsql;

namespace Postbox.Consumers.Tests.Infrastructure;

public sealed record WorkItem(string Body);

/// <summary>What the in-process test handler does: counted attempts, scripted failures, an optional delay.</summary>
public sealed class HandlerScript
{
    public ConcurrentDictionary<Guid, int> Attempts { get; } = new();

    /// <summary>Attempt numbers (by message) that throw.</summary>
    public Func<MessageContext, bool> ShouldFail { get; set; } = _ => false;

    public TimeSpan Delay { get; set; }

    /// <summary>A delay per attempt; wins over <see cref="Delay"/> when set.</summary>
    public Func<MessageContext, TimeSpan>? DelayFor { get; set; }

    public string Schema { get; set; } = "";
}

/// <summary>Writes an effect row through the inbox transaction, unless the script says to fail.</summary>
public sealed class TestHandler(HandlerScript script) : IMessageHandler<WorkItem>
{
    public async Task HandleAsync(WorkItem message, MessageContext context, CancellationToken cancellationToken)
    {
        script.Attempts.AddOrUpdate(context.MessageId, 1, static (_, n) => n + 1);
        var delay = script.DelayFor?.Invoke(context) ?? script.Delay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, cancellationToken);
        }

        await using (var command = new NpgsqlCommand($"INSERT INTO \"{script.Schema}\".effects (message_id, body) VALUES ($1, $2)",
            (NpgsqlConnection)context.Connection, (NpgsqlTransaction)context.Transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = context.MessageId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Body });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        // Fail after the effect was written: the rollback must discard it.
        if (script.ShouldFail(context))
        {
            throw new InvalidOperationException($"Scripted failure of attempt {context.Attempt}.");
        }
    }
}
