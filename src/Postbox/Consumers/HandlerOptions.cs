using System.Text.Json;
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
    /// Messages handled at the same time by this handler; also the broker prefetch. Default 12 (the seeds' mail
    /// worker); 1 to 1,000.
    /// </summary>
    public int Concurrency { get; set; } = 12;

    /// <summary>
    /// How long one attempt may run before its cancellation token fires and the attempt counts as failed.
    /// Default 1 min; 10 ms to 1 day. Cancellation is cooperative: the runtime waits for the handler to return.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Retries after the first failed attempt before the message is dead-lettered. Default 25; 0 to 1,000.</summary>
    public int MaxRetries { get; set; } = 25;

    /// <summary>
    /// Delay before each retry, given the attempts failed so far. Default <see cref="RetryPolicy.Asynq"/>
    /// (n⁴ + 15 + rand(0..29)·(n+1) s).
    /// </summary>
    public RetryPolicy RetryPolicy { get; set; } = RetryPolicy.Asynq;

    /// <summary>Options used to deserialize the payload. Default <see cref="JsonSerializerOptions.Web"/>.</summary>
    public JsonSerializerOptions? JsonOptions { get; set; }
}
