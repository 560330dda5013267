namespace Postbox.Consumers;

/// <summary>One delivery from a <see cref="IConsumerSource"/>, settled once by the runtime.</summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public abstract class IncomingMessage
{
    /// <summary>Creates a delivery.</summary>
    /// <param name="messageId">The message id, or <see langword="null"/> when the delivery carries no valid one.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="key">The ordering key, if any.</param>
    /// <param name="type">The type name, if any.</param>
    /// <param name="payload">The body.</param>
    /// <param name="headers">String headers.</param>
    /// <param name="redelivered">Whether the broker flagged it as redelivered.</param>
    protected IncomingMessage(Guid? messageId, string topic, string? key, string? type, ReadOnlyMemory<byte> payload,
        IReadOnlyDictionary<string, string> headers, bool redelivered)
    {
        (MessageId, Topic, Key, Type, Payload, Headers, Redelivered) = (messageId, topic, key, type, payload, headers, redelivered);
    }

    /// <summary>The message id, or <see langword="null"/> when the delivery carries no valid one (it is dead-lettered).</summary>
    public Guid? MessageId { get; }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>The ordering key, if any.</summary>
    public string? Key { get; }

    /// <summary>The type name, if any.</summary>
    public string? Type { get; }

    /// <summary>The body.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>String headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Whether the broker flagged the delivery as redelivered.</summary>
    public bool Redelivered { get; }

    /// <summary>
    /// The transport's <c>messaging.system</c> (OpenTelemetry semantic conventions), set on the <c>process</c> span:
    /// <c>rabbitmq</c>, <c>kafka</c>, or <c>postbox</c> (the in-process transport, the default).
    /// </summary>
    public virtual string MessagingSystem => "postbox";

    /// <summary>
    /// <see langword="true"/> when the delivery can no longer be settled (its channel was lost): the broker has
    /// already put the message back, so the runtime skips it rather than handle a copy that will come again.
    /// </summary>
    public virtual bool IsStale => false;

    /// <summary>Removes the message from the broker: the runtime calls it only after the outcome is committed.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public abstract ValueTask AckAsync(CancellationToken cancellationToken);

    /// <summary>Hands the message back to the broker for another delivery (shutdown, database unreachable).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    public abstract ValueTask RequeueAsync(CancellationToken cancellationToken);
}
