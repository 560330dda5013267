using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Diagnostics;
using Postbox.Kafka.Diagnostics;
using Log = Postbox.Kafka.Diagnostics.Log;
using Postbox.Kafka.Messages;
using Postbox.Threading;
using Postbox.Transport;

namespace Postbox.Kafka;

/// <summary>
/// Publishes outbox messages to Kafka: the message's topic (after <see cref="KafkaTransportOptions.TopicPrefix"/>) is the
/// Kafka topic, its <c>Key</c> the record key (so the partitioner keeps a key's messages in one partition, in order), its
/// id, type and headers Kafka headers. The producer is idempotent with <c>acks=all</c>; <see cref="PublishAsync"/>
/// completes when the message's delivery report says every in-sync replica has it.
/// </summary>
/// <remarks>
/// Publishes are pipelined: the relay calls <see cref="PublishAsync"/> many times without waiting, and librdkafka batches
/// them. A failure of one message (too large, unknown topic, invalid record) throws <see cref="TransportException"/>
/// (<see cref="TransportException.IsTransient"/> <see langword="false"/> when retrying cannot help); a failure of the
/// cluster as a whole (no broker reachable, local queue full, delivery timed out, a fatal producer error) throws
/// <see cref="TransportUnavailableException"/>. Cancelling stops waiting; librdkafka may still deliver the message, which
/// consumers deduplicate by id. The producer is created on the first publish.
/// </remarks>
internal sealed class KafkaTransport : IOutboxTransport, IAsyncDisposable
{
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(10);

    private readonly KafkaTransportOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private IProducer<byte[]?, byte[]>? _producer;
    private bool _replaceProducer;
    private long _unavailableSince = -1;
    private long _lastProbe;
    private long _lastDelivery = long.MinValue;
    private int _disposed;

    /// <summary>Creates the transport; nothing connects before the first publish.</summary>
    /// <param name="options">The options; validated here too, so a transport created without the host is checked as well.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="timeProvider">The clock (probe interval during an outage).</param>
    /// <exception cref="OptionsValidationException">The options are invalid (every problem is listed).</exception>
    public KafkaTransport(IOptions<KafkaTransportOptions> options, ILogger<KafkaTransport> logger, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _options = options.Value;
        var validation = new KafkaTransportOptionsValidator().Validate(Options.DefaultName, _options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(KafkaTransportOptions), validation.Failures);
        }

        (_logger, _timeProvider) = (logger, timeProvider);
    }

    /// <summary>Whether the transport currently considers the cluster unreachable (publishes fail fast, except probes).</summary>
    internal bool IsUnavailable => Interlocked.Read(ref _unavailableSince) >= 0;

    /// <inheritdoc />
    public async ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var topic = _options.TopicPrefix + message.Topic;
        if (!KafkaNames.IsValidTopic(topic))
        {
            throw new TransportException(
                $"Message {message.Id} cannot be published to Kafka: its topic '{topic}' is not a legal Kafka topic name " +
                $"(1 to {KafkaNames.MaxTopicLength} characters of [A-Za-z0-9._-]). Retrying cannot help.", null, isTransient: false);
        }

        ThrowIfUnavailable(message);
        if (Activity.Current is { IsAllDataRequested: true, Kind: ActivityKind.Producer } span && span.Source.Name == PostboxActivitySource.Name)
        {
            // The relay's send span: name Kafka and the real topic (with the configured prefix).
            span.SetTag("messaging.system", "kafka");
            span.SetTag("messaging.destination.name", topic);
        }

        var producer = GetProducer();
        var started = _timeProvider.GetTimestamp();
        try
        {
            var result = await producer.ProduceAsync(topic, KafkaRecord.Create(message), cancellationToken).ConfigureAwait(false);
            if (result.Status != PersistenceStatus.Persisted)
            {
                // Not expected with acks=all (a success means every in-sync replica has it); never count it delivered.
                throw new TransportException($"Kafka reported message {message.Id} for topic '{topic}' as {result.Status}, not persisted. It will be retried.");
            }

            InterlockedMax.Raise(ref _lastDelivery, _timeProvider.GetTimestamp());
            MarkAvailable();
        }
        catch (ProduceException<byte[]?, byte[]> ex)
        {
            throw Classify(ex.Error, message, topic, started, ex);
        }
        catch (KafkaException ex)
        {
            throw Classify(ex.Error, message, topic, started, ex);
        }
    }

    private void ThrowIfUnavailable(OutboxEnvelope message)
    {
        var since = Interlocked.Read(ref _unavailableSince);
        if (since < 0)
        {
            return;
        }

        // One publish per interval goes through as a probe: its delivery ends the outage.
        var now = _timeProvider.GetTimestamp();
        var last = Interlocked.Read(ref _lastProbe);
        if (_timeProvider.GetElapsedTime(last, now) >= _options.UnavailableProbeInterval
            && Interlocked.CompareExchange(ref _lastProbe, now, last) == last)
        {
            return;
        }

        throw new TransportUnavailableException(
            $"Kafka at {_options.BootstrapServers} is unreachable (since {_timeProvider.GetElapsedTime(since, now).TotalSeconds:0.#} s); " +
            $"message {message.Id} was not sent and costs no attempt.");
    }

    private TransportException Classify(Error error, OutboxEnvelope message, string topic, long started, Exception cause)
    {
        var what = $"Kafka did not accept message {message.Id} for topic '{topic}' ({error.Code}: {error.Reason})";
        if (error.IsFatal)
        {
            lock (_lock)
            {
                _replaceProducer = true;
            }

            MarkUnavailable($"fatal {error.Code}");
            return new TransportUnavailableException($"{what}: the producer failed fatally and is replaced.", cause);
        }

        if (error.Code == ErrorCode.Local_MsgTimedOut && !IsUnavailable && Interlocked.Read(ref _lastDelivery) > started)
        {
            // Other messages were delivered while this one waited, and no broker-down was reported: its own topic or partition
            // is the problem (e.g. a topic whose metadata never arrived), not the cluster. Do not pause the relay for it.
            return new TransportException($"{what}: it timed out while other messages were delivered (its topic or partition is " +
                "unavailable). It will be retried.", cause);
        }

        switch (KafkaErrors.Classify(error.Code))
        {
            case KafkaErrorKind.Unavailable:
                if (error.Code is ErrorCode.Local_MsgTimedOut or ErrorCode.Local_AllBrokersDown or ErrorCode.Local_Transport)
                {
                    MarkUnavailable(error.Code.ToString());
                }

                return new TransportUnavailableException($"{what}: the cluster cannot take messages now. It costs no attempt.", cause);
            case KafkaErrorKind.Permanent:
                return new TransportException($"{what}. Retrying cannot help.", cause, isTransient: false);
            default:
                return new TransportException($"{what}. It will be retried.", cause);
        }
    }

    private IProducer<byte[]?, byte[]> GetProducer()
    {
        IProducer<byte[]?, byte[]>? replaced = null;
        IProducer<byte[]?, byte[]> producer;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_producer is not null && !_replaceProducer)
            {
                return _producer;
            }

            (replaced, _replaceProducer) = (_producer, false);
            _producer = producer = BuildProducer();
        }

        if (replaced is not null)
        {
            // Off the publishing path: disposing waits for librdkafka's threads.
            _ = Task.Run(() => DisposeQuietly(replaced));
        }

        Log.ProducerCreated(_logger, _options.ClientId, _options.BootstrapServers);
        return producer;
    }

    private IProducer<byte[]?, byte[]> BuildProducer()
    {
        var config = new ProducerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            ClientId = _options.ClientId,
            AllowAutoCreateTopics = _options.AllowAutoCreateTopics,
            MessageTimeoutMs = (int)_options.MessageTimeout.TotalMilliseconds,
            LingerMs = _options.Linger.TotalMilliseconds,
            MessageMaxBytes = _options.MaxMessageBytes,
            CompressionType = _options.CompressionType,
            // Java's partitioner: a key lands on the same partition whether a Java or a Postbox producer writes it.
            Partitioner = Partitioner.Murmur2Random,
        };
        // An unknown topic fails its messages after this wait (it may still be being created). Half the delivery timeout, so
        // the unknown-topic error (this message's fault) normally comes before the timeout (which may mean the cluster's).
        config.Set("topic.metadata.propagation.max.ms",
            ((int)Math.Min(_options.MessageTimeout.TotalMilliseconds / 2, TimeSpan.FromSeconds(10).TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        _options.ConfigureProducer?.Invoke(config);

        // What the delivery guarantee rests on, applied last so no setting above can weaken it.
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        config.EnableDeliveryReports = true;
        config.DeliveryReportFields = "status";

        return new ProducerBuilder<byte[]?, byte[]>(config)
            .SetErrorHandler(OnError)
            .SetLogHandler((_, message) => Log.Librdkafka(_logger, message.Facility, message.Message))
            .Build();
    }

    private void OnError(IProducer<byte[]?, byte[]> producer, Error error)
    {
        if (error.IsFatal)
        {
            Log.FatalError(_logger, error.Code, error.Reason);
            lock (_lock)
            {
                if (ReferenceEquals(producer, _producer))
                {
                    _replaceProducer = true;
                }
            }

            MarkUnavailable($"fatal {error.Code}");
            return;
        }

        if (error.Code == ErrorCode.Local_AllBrokersDown)
        {
            MarkUnavailable(error.Reason);
            return;
        }

        Log.ClientError(_logger, error.Code, error.Reason);
    }

    private void MarkUnavailable(string reason)
    {
        var now = _timeProvider.GetTimestamp();
        if (Interlocked.CompareExchange(ref _unavailableSince, now, -1) == -1)
        {
            Interlocked.Exchange(ref _lastProbe, now);
            Log.Unavailable(_logger, _options.BootstrapServers, reason, _options.UnavailableProbeInterval);
        }
    }

    private void MarkAvailable()
    {
        if (Interlocked.Read(ref _unavailableSince) >= 0 && Interlocked.Exchange(ref _unavailableSince, -1) >= 0)
        {
            Log.Available(_logger, _options.BootstrapServers);
        }
    }

    private void DisposeQuietly(IProducer<byte[]?, byte[]> producer)
    {
        try
        {
            producer.Dispose();
        }
#pragma warning disable CA1031 // A replaced or closing producer is abandoned; the relay republishes anything unconfirmed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.DisposeFailed(_logger, ex);
        }
    }

    /// <summary>
    /// Waits up to 10 s for messages still queued in librdkafka to be delivered, then closes the producer. Messages still
    /// unconfirmed stay unconfirmed for the relay, which republishes them.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        IProducer<byte[]?, byte[]>? producer;
        lock (_lock)
        {
            (producer, _producer) = (_producer, null);
        }

        if (producer is null)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(Task.Run(() =>
        {
            var left = producer.Flush(FlushTimeout);
            if (left > 0)
            {
                Log.FlushIncomplete(_logger, left);
            }

            DisposeQuietly(producer);
        }));
    }
}
