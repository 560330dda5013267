using System.Data.Common;

namespace Postbox.Consumers;

/// <summary>What a handler knows about the message it handles, and the transaction it can join.</summary>
public sealed class MessageContext
{
    internal MessageContext(Guid messageId, string topic, string? type, string? key, IReadOnlyDictionary<string, string> headers,
        int attempt, string consumerName, bool redelivered, DbTransaction transaction)
    {
        (MessageId, Topic, Type, Key, Headers, Attempt, ConsumerName, Redelivered, Transaction) =
            (messageId, topic, type, key, headers, attempt, consumerName, redelivered, transaction);
    }

    /// <summary>The message id (the outbox id, the AMQP message id): the deduplication key.</summary>
    public Guid MessageId { get; }

    /// <summary>The topic the message was published to.</summary>
    public string Topic { get; }

    /// <summary>The message type name, if the producer set one.</summary>
    public string? Type { get; }

    /// <summary>The ordering key, if the producer set one.</summary>
    public string? Key { get; }

    /// <summary>The message headers (including <c>traceparent</c>).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>
    /// This handling attempt, 1 for the first. Attempts that crashed the process before recording their failure are
    /// not counted; see <c>docs/consumers.md</c>.
    /// </summary>
    public int Attempt { get; }

    /// <summary>The consumer name: with <see cref="MessageId"/>, the inbox key.</summary>
    public string ConsumerName { get; }

    /// <summary>Whether the broker flagged the delivery as a redelivery (a previous delivery was not acknowledged).</summary>
    public bool Redelivered { get; }

    /// <summary>
    /// The inbox transaction, opened by the runtime before the handler runs and committed by it after the handler
    /// returns. It already holds the row recording <c>(MessageId, ConsumerName)</c>: do the handler's own database work
    /// through it (e.g. cast to <c>NpgsqlTransaction</c>) so that work and the inbox row commit or roll back together.
    /// Do not commit or roll it back yourself.
    /// </summary>
    public DbTransaction Transaction { get; }

    /// <summary>The connection of <see cref="Transaction"/>.</summary>
    public DbConnection Connection => Transaction.Connection
        ?? throw new InvalidOperationException("The inbox transaction is no longer usable: it was completed by the runtime.");
}
