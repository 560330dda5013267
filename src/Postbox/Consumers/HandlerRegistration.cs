using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Postbox.Consumers;

/// <summary>One handler registered with <c>AddHandler</c>: its topic, options and typed invokers.</summary>
internal sealed class HandlerRegistration
{
    private HandlerRegistration(string topic, Type messageType, Type handlerType, HandlerOptions options,
        Func<ReadOnlyMemory<byte>, JsonSerializerOptions, object?> deserialize,
        Func<IServiceProvider, object, MessageContext, CancellationToken, Task> handle)
    {
        (Topic, MessageType, HandlerType, Options, _deserialize, Handle) = (topic, messageType, handlerType, options, deserialize, handle);
        ConsumerName = options.ConsumerName ?? handlerType.FullName ?? handlerType.Name;
        Tags =
        [
            new("messaging.destination.name", topic),
            new("messaging.consumer.group.name", ConsumerName),
        ];
    }

    private readonly Func<ReadOnlyMemory<byte>, JsonSerializerOptions, object?> _deserialize;

    public string Topic { get; }

    public Type MessageType { get; }

    public Type HandlerType { get; }

    public HandlerOptions Options { get; }

    public string ConsumerName { get; }

    /// <summary>Messages of one key run one at a time, in arrival order, and a retrying one holds its key.</summary>
    public bool OrdersByKey => Options.Ordering == MessageOrdering.ByKey;

    /// <summary>The broker prefetch: twice the concurrency when ordering by key (see <see cref="HandlerOptions.Concurrency"/>).</summary>
    public int Prefetch => OrdersByKey ? Math.Min(Options.Concurrency * 2, ushort.MaxValue) : Options.Concurrency;

    /// <summary>Metric tags of this handler, built once.</summary>
    public KeyValuePair<string, object?>[] Tags { get; }

    /// <summary>Resolves the handler from the message's scope and calls it.</summary>
    public Func<IServiceProvider, object, MessageContext, CancellationToken, Task> Handle { get; }

    /// <summary>Deserializes the payload; throws <see cref="JsonException"/> (or returns null) for a malformed one.</summary>
    public object? Deserialize(ReadOnlyMemory<byte> payload) => _deserialize(payload, Options.JsonOptions ?? JsonSerializerOptions.Web);

    public static HandlerRegistration Create<TMessage, THandler>(string topic, HandlerOptions options)
        where THandler : class, IMessageHandler<TMessage> =>
        new(topic, typeof(TMessage), typeof(THandler), options,
            static (payload, json) => JsonSerializer.Deserialize<TMessage>(payload.Span, json),
            static (services, message, context, cancellationToken) =>
                services.GetRequiredService<THandler>().HandleAsync((TMessage)message, context, cancellationToken));
}
