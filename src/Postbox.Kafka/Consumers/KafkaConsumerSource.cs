using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Consumers;

namespace Postbox.Kafka.Consumers;

/// <summary>
/// Consumes Kafka topics: one consumer (and one poll thread) per handler, in the handler's own consumer group, with manual
/// in-order offset commits after the inbox committed.
/// </summary>
internal sealed class KafkaConsumerSource(IOptions<KafkaConsumerOptions> options, TimeProvider timeProvider, ILogger<KafkaConsumerSource> logger)
    : IConsumerSource
{
    private readonly KafkaConsumerOptions _options = options.Value;

    public Task<IConsumerSubscription> SubscribeAsync(ConsumerSubscriptionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var topic = _options.TopicPrefix + request.Topic;
        if (!KafkaNames.IsValidTopic(topic))
        {
            throw new ArgumentException($"'{topic}' is not a legal Kafka topic name (1 to {KafkaNames.MaxTopicLength} characters of [A-Za-z0-9._-]).",
                nameof(request));
        }

        var subscription = KafkaSubscription.Start(CreateConfig(request), topic, request, _options, timeProvider, logger);
        return Task.FromResult<IConsumerSubscription>(subscription);
    }

    internal ConsumerConfig CreateConfig(ConsumerSubscriptionRequest request)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            ClientId = _options.ClientId,
            AutoOffsetReset = _options.AutoOffsetReset,
            // Fetch no more ahead than a few times what may be unsettled: paused partitions drop what was fetched.
            QueuedMaxMessagesKbytes = 16 * 1024,
        };
        _options.ConfigureConsumer?.Invoke(config);

        // What the delivery guarantee rests on, applied last: offsets are committed only by the subscription, after the inbox.
        config.GroupId = request.Queue ?? _options.GroupIdPrefix + request.ConsumerName;
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        config.EnablePartitionEof = false;
        return config;
    }
}
