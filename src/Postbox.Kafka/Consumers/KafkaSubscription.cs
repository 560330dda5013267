using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using Postbox.Kafka.Messages;

namespace Postbox.Kafka.Consumers;

/// <summary>
/// One handler's Kafka consumer, in its own consumer group, driven by one dedicated poll thread that owns every call into
/// librdkafka (consume, pause, seek, commit and the rebalance callbacks). Deliveries are settled from any thread: a settle
/// only queues a command for the poll thread.
/// </summary>
/// <remarks>
/// <para>Offsets are committed manually and in order per partition: a delivery's offset becomes committable only once it and
/// every earlier delivery of its partition were acknowledged, i.e. after their inbox transactions committed. Auto commit
/// and the automatic offset store are off.</para>
/// <para>A delivery handed back (<see cref="IncomingMessage.RequeueAsync"/>) rewinds its partition to the first unsettled
/// offset: everything from there is fetched again (the inbox recognises what was already handled) and the older deliveries
/// become stale.</para>
/// <para>Revoked partitions: deliveries of theirs not started yet become stale at once; those being handled get
/// <see cref="KafkaConsumerOptions.RevokeGracePeriod"/> to finish; then what is done is committed and the rest dropped (the
/// new owner gets it again).</para>
/// <para>At most <c>prefetch</c> deliveries are unsettled. At that limit the loop stops taking records; if it lasts, it pauses
/// the partitions so it can keep polling (heartbeats of the group protocol, rebalances) without receiving more. Pausing intake
/// (<see cref="PauseAsync"/>) pauses every assigned partition, including those assigned later.</para>
/// </remarks>
internal sealed class KafkaSubscription : IConsumerSubscription
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FlowPauseAfter = TimeSpan.FromSeconds(1);

    private readonly IConsumer<byte[]?, byte[]> _consumer;
    private readonly string _kafkaTopic;
    private readonly string _topic;
    private readonly string _groupId;
    private readonly int _prefetch;
    private readonly KafkaConsumerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Channel<IncomingMessage> _buffer = Channel.CreateUnbounded<IncomingMessage>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly ConcurrentQueue<Command> _commands = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Dictionary<TopicPartition, PartitionState> _partitions = [];
    private readonly HashSet<TopicPartition> _pausedPartitions = [];
    private readonly Queue<ConsumeResult<byte[]?, byte[]>> _backlog = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _unsettled;
    private bool _intakePaused;
    private long _limitSince = -1;
    private long _lastCommit;
    private ErrorCode _lastConsumeError = ErrorCode.NoError;
    private int _disposed;

    private KafkaSubscription(ConsumerConfig config, string kafkaTopic, ConsumerSubscriptionRequest request, KafkaConsumerOptions options,
        TimeProvider timeProvider, ILogger logger)
    {
        (_kafkaTopic, _topic, _groupId, _prefetch, _options, _timeProvider, _logger) =
            (kafkaTopic, request.Topic, config.GroupId, request.Prefetch, options, timeProvider, logger);
        _consumer = new ConsumerBuilder<byte[]?, byte[]>(config)
            .SetPartitionsAssignedHandler((_, partitions) => OnAssigned(partitions))
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions))
            .SetPartitionsLostHandler((_, partitions) => OnLost(partitions))
            .SetErrorHandler((_, error) => KafkaConsumerLog.ClientError(_logger, _groupId, error.Code, error.Reason))
            .SetLogHandler((_, message) => Diagnostics.Log.Librdkafka(_logger, message.Facility, message.Message))
            .Build();
    }

    public ChannelReader<IncomingMessage> Messages => _buffer.Reader;

    /// <summary>The group id, for logs and tests.</summary>
    public string GroupId => _groupId;

    public static KafkaSubscription Start(ConsumerConfig config, string kafkaTopic, ConsumerSubscriptionRequest request, KafkaConsumerOptions options,
        TimeProvider timeProvider, ILogger logger)
    {
        var subscription = new KafkaSubscription(config, kafkaTopic, request, options, timeProvider, logger);
        subscription._lastCommit = timeProvider.GetTimestamp();
        // librdkafka calls block: the loop gets a thread of its own rather than a pool thread.
        subscription._loop = Task.Factory.StartNew(subscription.Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return subscription;
    }

    public Task PauseAsync(CancellationToken cancellationToken) => SetIntakeAsync(paused: true, cancellationToken);

    public Task ResumeAsync(CancellationToken cancellationToken) => SetIntakeAsync(paused: false, cancellationToken);

    private Task SetIntakeAsync(bool paused, CancellationToken cancellationToken)
    {
        if (_loop.IsCompleted)
        {
            return Task.CompletedTask;
        }

        // Completes once the poll thread applied it, so no delivery is made after PauseAsync returns.
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new Command(null, Requeue: false, Paused: paused, applied));
        return applied.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Called by a delivery's ack or requeue, from any thread.</summary>
    internal void Settle(KafkaIncomingMessage message, bool requeue)
    {
        message.MarkSettled();
        if (message.TryReleaseCredit())
        {
            Interlocked.Decrement(ref _unsettled);
        }

        Post(new Command(message, requeue, Paused: null, Applied: null));
    }

    private void Post(Command command)
    {
        _commands.Enqueue(command);
        _wake.Release();
    }

    private void Run()
    {
        try
        {
            _consumer.Subscribe(_kafkaTopic);
            KafkaConsumerLog.Subscribed(_logger, _kafkaTopic, _groupId, _options.BootstrapServers, _prefetch);
            while (!_stop.IsCancellationRequested)
            {
                ProcessCommands();
                CommitIfDue(force: false);
                ApplyFlowControl();
                DrainBacklog();

                var canDeliver = CanDeliver;
                if (canDeliver || _pausedPartitions.Count > 0)
                {
                    // Paused partitions return nothing, but polling serves the group protocol (rebalances) meanwhile.
                    var result = Consume();
                    if (result is not null)
                    {
                        if (CanDeliver && _backlog.Count == 0)
                        {
                            Deliver(result);
                        }
                        else
                        {
                            // Only records of partitions assigned since the last pause can arrive here; they wait their turn.
                            _backlog.Enqueue(result);
                        }
                    }
                }
                else
                {
                    // At the prefetch limit: wait for a settle (or the flow-control pause) instead of taking more.
                    _wake.Wait(PollTimeout);
                }
            }
        }
#pragma warning disable CA1031 // The loop must end cleanly (complete the channel, close the consumer) whatever happened.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            KafkaConsumerLog.LoopFailed(_logger, ex, _groupId);
        }
        finally
        {
            Shutdown();
        }
    }

    private bool CanDeliver => !_intakePaused && Volatile.Read(ref _unsettled) < _prefetch;

    private ConsumeResult<byte[]?, byte[]>? Consume()
    {
        try
        {
            var result = _consumer.Consume(PollTimeout);
            if (result is null || result.IsPartitionEOF || result.Message is null)
            {
                return null;
            }

            _lastConsumeError = ErrorCode.NoError;
            return result;
        }
        catch (ConsumeException ex)
        {
            // One line per kind of error, not one per poll (an unknown topic is reported on every poll).
            if (ex.Error.Code != _lastConsumeError)
            {
                _lastConsumeError = ex.Error.Code;
                KafkaConsumerLog.ConsumeFailed(_logger, _kafkaTopic, _groupId, ex.Error.Code, ex.Error.Reason);
            }

            _wake.Wait(PollTimeout);
            return null;
        }
    }

    private void Deliver(ConsumeResult<byte[]?, byte[]> result)
    {
        if (!_partitions.TryGetValue(result.TopicPartition, out var state))
        {
            // Not assigned any more (revoked between fetch and delivery): the new owner reads it.
            return;
        }

        var record = result.Message;
        var headers = KafkaRecord.ReadHeaders(record.Headers);
        Guid? id = headers.TryGetValue(KafkaRecord.MessageIdHeader, out var text) && Guid.TryParse(text, out var parsed) ? parsed : null;
        var offset = result.Offset.Value;
        var message = new KafkaIncomingMessage(this, state, state.Epoch, offset, id, _topic,
            record.Key is null ? null : Encoding.UTF8.GetString(record.Key), headers.GetValueOrDefault(KafkaRecord.TypeHeader),
            record.Value ?? [], headers, redelivered: offset <= state.HighestDelivered);
        state.HighestDelivered = Math.Max(state.HighestDelivered, offset);
        if (state.Pending.Count == 0 && state.Committable < 0)
        {
            // The first delivery of this assignment: nothing before it is ours to commit.
            state.Committable = offset;
        }

        state.Pending.Enqueue(message);
        Interlocked.Increment(ref _unsettled);
        _buffer.Writer.TryWrite(message);
    }

    private void DrainBacklog()
    {
        while (_backlog.Count > 0 && CanDeliver)
        {
            Deliver(_backlog.Dequeue());
        }
    }

    private void ProcessCommands()
    {
        while (_commands.TryDequeue(out var command))
        {
            if (command.Paused is { } paused)
            {
                _intakePaused = paused;
                ApplyFlowControl();
                command.Applied?.TrySetResult();
                continue;
            }

            var message = command.Message!;
            var state = message.Partition;
            if (message.Epoch != state.Epoch || !_partitions.TryGetValue(state.Partition, out var current) || !ReferenceEquals(current, state))
            {
                continue; // Stale: the partition was rewound or given up since; the record comes again.
            }

            if (!command.Requeue)
            {
                message.MarkDone();
                state.Advance();
            }
            else if (!state.Revoking)
            {
                Rewind(state, message.Offset);
            }

            // A requeue while revoking: the record stays unsettled, so its offset is not committed and the new owner gets it.
        }
    }

    private void Rewind(PartitionState state, long offset)
    {
        // From the first unsettled delivery: an earlier one still in flight must not be skipped by the rewind.
        var from = state.Pending.TryPeek(out var head) ? Math.Min(head.Offset, offset) : offset;
        state.NewEpoch();
        DropPending(state);
        DropBacklog(state.Partition);
        try
        {
            _consumer.Seek(new TopicPartitionOffset(state.Partition, new Offset(from)));
            KafkaConsumerLog.Rewound(_logger, _groupId, state.Partition.ToString(), offset, from);
        }
        catch (KafkaException ex)
        {
            KafkaConsumerLog.ConsumeFailed(_logger, _kafkaTopic, _groupId, ex.Error.Code, ex.Error.Reason);
        }
    }

    private int DropPending(PartitionState state)
    {
        var dropped = 0;
        while (state.Pending.TryDequeue(out var message))
        {
            if (message.TryReleaseCredit())
            {
                Interlocked.Decrement(ref _unsettled);
            }

            dropped++;
        }

        return dropped;
    }

    private void DropBacklog(TopicPartition partition)
    {
        var keep = _backlog.Where(r => !r.TopicPartition.Equals(partition)).ToList();
        _backlog.Clear();
        foreach (var result in keep)
        {
            _backlog.Enqueue(result);
        }
    }

    private void ApplyFlowControl()
    {
        var now = _timeProvider.GetTimestamp();
        var atLimit = Volatile.Read(ref _unsettled) >= _prefetch;
        if (!atLimit)
        {
            _limitSince = -1;
        }
        else if (_limitSince < 0)
        {
            _limitSince = now;
        }

        var pause = _intakePaused || (atLimit && _timeProvider.GetElapsedTime(_limitSince, now) >= FlowPauseAfter);
        try
        {
            if (pause)
            {
                var toPause = _partitions.Keys.Where(p => !_pausedPartitions.Contains(p)).ToList();
                if (toPause.Count > 0)
                {
                    _consumer.Pause(toPause);
                    _pausedPartitions.UnionWith(toPause);
                }
            }
            else if (_pausedPartitions.Count > 0)
            {
                // Fetching resumes from the position of the last record returned: nothing is skipped.
                _consumer.Resume(_pausedPartitions.ToList());
                _pausedPartitions.Clear();
            }
        }
        catch (KafkaException ex)
        {
            KafkaConsumerLog.ConsumeFailed(_logger, _kafkaTopic, _groupId, ex.Error.Code, ex.Error.Reason);
        }
    }

    private void CommitIfDue(bool force)
    {
        var now = _timeProvider.GetTimestamp();
        if (!force && _timeProvider.GetElapsedTime(_lastCommit, now) < _options.CommitInterval)
        {
            return;
        }

        _lastCommit = now;
        Commit(_partitions.Values);
    }

    private void Commit(IEnumerable<PartitionState> states)
    {
        var due = states.Where(s => s.Committable >= 0 && s.Committable > s.Committed).ToList();
        if (due.Count == 0)
        {
            return;
        }

        try
        {
            _consumer.Commit(due.Select(s => new TopicPartitionOffset(s.Partition, new Offset(s.Committable))));
            foreach (var state in due)
            {
                state.Committed = state.Committable;
            }
        }
        catch (KafkaException ex)
        {
            KafkaConsumerLog.CommitFailed(_logger, _groupId, ex.Error.Code, ex.Error.Reason);
        }
    }

    private void OnAssigned(List<TopicPartition> partitions)
    {
        foreach (var partition in partitions)
        {
            if (_partitions.Remove(partition, out var old))
            {
                old.MarkRevoking();
                DropPending(old);
            }

            _partitions[partition] = new PartitionState(partition);
        }

        KafkaConsumerLog.Assigned(_logger, _groupId, string.Join(", ", partitions.Select(p => p.Partition.Value)));
    }

    private void OnRevoked(List<TopicPartitionOffset> partitions)
    {
        var states = partitions.Select(p => _partitions.GetValueOrDefault(p.TopicPartition)).OfType<PartitionState>().ToList();
        foreach (var state in states)
        {
            // From now on their deliveries not started yet are stale; those being handled may still finish.
            state.MarkRevoking();
        }

        var deadline = _timeProvider.GetTimestamp();
        // Only deliveries being handled are waited for: a hand-back (requeue) is settled and not done, and stays uncommitted.
        while (states.Any(s => s.Pending.Any(m => m.Started && !m.IsSettled))
            && _timeProvider.GetElapsedTime(deadline) < _options.RevokeGracePeriod)
        {
            _wake.Wait(TimeSpan.FromMilliseconds(20));
            ProcessCommands();
        }

        ProcessCommands();
        Commit(states);
        var dropped = 0;
        foreach (var state in states)
        {
            dropped += DropPending(state);
            _partitions.Remove(state.Partition);
            _pausedPartitions.Remove(state.Partition);
            DropBacklog(state.Partition);
        }

        KafkaConsumerLog.Revoked(_logger, _groupId, string.Join(", ", partitions.Select(p => p.Partition.Value)), dropped);
    }

    private void OnLost(List<TopicPartitionOffset> partitions)
    {
        foreach (var partition in partitions)
        {
            if (_partitions.Remove(partition.TopicPartition, out var state))
            {
                state.MarkRevoking();
                DropPending(state);
            }

            _pausedPartitions.Remove(partition.TopicPartition);
            DropBacklog(partition.TopicPartition);
        }

        KafkaConsumerLog.Lost(_logger, _groupId, string.Join(", ", partitions.Select(p => p.Partition.Value)));
    }

    private void Shutdown()
    {
        try
        {
            ProcessCommands();
            CommitIfDue(force: true);
            // Leaves the group: the revoke callback commits once more, and the partitions move to the other members at once.
            _consumer.Close();
        }
#pragma warning disable CA1031 // Best effort: an unclosed consumer's uncommitted records are redelivered; the inbox recognises them.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            KafkaConsumerLog.CloseFailed(_logger, ex, _groupId);
        }
        finally
        {
            _consumer.Dispose();
            _buffer.Writer.TryComplete();
            while (_commands.TryDequeue(out var command))
            {
                command.Applied?.TrySetResult();
            }

            KafkaConsumerLog.Stopped(_logger, _kafkaTopic, _groupId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _wake.Release();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _wake.Dispose();
    }

    /// <summary>A settle (<see cref="Message"/> set) or an intake change (<see cref="Paused"/> set) for the poll thread.</summary>
    private sealed record Command(KafkaIncomingMessage? Message, bool Requeue, bool? Paused, TaskCompletionSource? Applied);
}
