using System.Text.Json;
using Postbox.Relay;
using Postbox.Retry;

namespace Postbox.Consumers;

/// <summary>Options of one registered handler. Validated when the host starts, with every problem listed.</summary>
public sealed class HandlerOptions
{
    /// <summary>
    /// The consumer name: with the message id, the inbox key, so it must stay the same across deployments and be
    /// unique among handlers. Default: the handler type's full name. Set it explicitly for anything long-lived.
    /// At most 200 characters.
    /// </summary>
    public string? ConsumerName { get; set; }

    /// <summary>
    /// The broker queue to consume. Default: the queue the transport declares for the topic
    /// (RabbitMQ: <c>QueuePrefix + topic</c>).
    /// </summary>
    public string? Queue { get; set; }

    /// <summary>
    /// Messages handled at the same time by this handler. Default 12 (the seeds' mail worker); 1 to 1,000. The broker
    /// prefetch is <c>Concurrency</c> when <see cref="Ordering"/> is <see cref="MessageOrdering.Unordered"/> and twice it
    /// when ordering by key, so messages waiting behind a busy key do not leave slots idle.
    /// </summary>
    public int Concurrency { get; set; } = 12;

    /// <summary>
    /// How long one attempt may run before its cancellation token fires and the attempt counts as failed.
    /// Default 1 min; 10 ms to 1 day. Cancellation is cooperative: the runtime waits for the handler to return.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Attempts (the first delivery is attempt 1) before the message is dead-lettered: the same count as
    /// <see cref="RelayOptions.MaxAttempts"/>. Default 25; 1 to 1,000.
    /// </summary>
    public int MaxAttempts { get; set; } = 25;

    /// <summary>
    /// Delay before each retry, given the attempts failed so far. Default <see cref="RetryPolicy.Asynq"/>
    /// (n⁴ + 15 + rand(0..29)·(n+1) s).
    /// </summary>
    public RetryPolicy RetryPolicy { get; set; } = RetryPolicy.Asynq;

    /// <summary>
    /// Whether messages with the same key are handled one at a time in arrival order
    /// (<see cref="MessageOrdering.ByKey"/>, the default) or in any order (<see cref="MessageOrdering.Unordered"/>).
    /// Keyless messages are never held back. See <c>docs/ordering.md</c>.
    /// </summary>
    public MessageOrdering Ordering { get; set; } = MessageOrdering.ByKey;

    /// <summary>
    /// With <see cref="MessageOrdering.ByKey"/>: what a dead letter does to its key at this consumer.
    /// <see cref="Relay.DeadKeyPolicy.Block"/> (the default, as on the relay): the key's later messages are parked in the
    /// inbox until the dead message is replayed (<see cref="IInboxAdmin.ReplayDeadAsync"/>) and has succeeded;
    /// <see cref="Relay.DeadKeyPolicy.Skip"/>: the key goes on with its next message.
    /// </summary>
    public DeadKeyPolicy DeadKeyPolicy { get; set; } = DeadKeyPolicy.Block;

    /// <summary>Options used to deserialize the payload. Default <see cref="JsonSerializerOptions.Web"/>.</summary>
    public JsonSerializerOptions? JsonOptions { get; set; }
}
