using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Diagnostics;
using Postbox.RabbitMQ.Connection;
using Postbox.RabbitMQ.Diagnostics;
using Log = Postbox.RabbitMQ.Diagnostics.Log;
using Postbox.RabbitMQ.Messages;
using Postbox.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Postbox.RabbitMQ;

/// <summary>
/// Publishes outbox messages to a durable RabbitMQ topic exchange (the topic is the routing key), as persistent,
/// <c>mandatory</c> messages with publisher confirms: <see cref="PublishAsync"/> completes once the broker has
/// taken responsibility for the message, and fails with a <see cref="TransportException"/> when it was nacked,
/// returned as unroutable, or cannot be carried (too large), and with a <see cref="TransportUnavailableException"/>
/// when the transport as a whole cannot publish: the connection is down or cannot be made, the broker blocks it (a
/// memory or disk alarm; nothing is published into a blocked connection), or the channel or connection closed
/// before the confirm.
/// </summary>
/// <remarks>
/// Many publishes may be in flight at once (the relay pipelines them); they are spread over
/// <see cref="RabbitMQTransportOptions.PublishChannels"/> confirm channels on one auto-recovering connection,
/// opened on the first publish. Cancelling the token stops waiting (the broker may still store the message:
/// consumers deduplicate by message id) and throws <see cref="OperationCanceledException"/>.
/// </remarks>
internal sealed partial class RabbitMQTransport : IOutboxTransport, IAsyncDisposable
{
    private readonly RabbitMQTransportOptions _options;
    private readonly ILogger _logger;
    private readonly BrokerConnection _connection;
    private long _maxMessageSize;
    private int _disposed;

    /// <summary>Creates the transport; nothing connects before the first publish.</summary>
    /// <param name="options">The options; validated here too, so a transport created without the host is checked as well.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="timeProvider">The clock (back-off between connection attempts).</param>
    /// <exception cref="OptionsValidationException">The options are invalid (every problem is listed).</exception>
    public RabbitMQTransport(IOptions<RabbitMQTransportOptions> options, ILogger<RabbitMQTransport> logger, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _options = options.Value;
        var validation = new RabbitMQTransportOptionsValidator().Validate(Options.DefaultName, _options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(RabbitMQTransportOptions), validation.Failures);
        }

        _logger = logger;
        _connection = new BrokerConnection(_options, timeProvider, logger);
    }

    /// <summary>
    /// Turns off the checks of a message's properties and headers against the connection's frame size, so that a
    /// test can make a message break the connection as a limit Postbox does not know would.
    /// </summary>
    internal bool SkipEnvelopeChecks { get; set; }

    /// <inheritdoc />
    public async ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        // A keyed message of a partitioned topic goes to its key's partition queue (per-key order across workers).
        var routingKey = string.IsNullOrEmpty(message.Topic) ? message.Topic : Partitioning.RoutingKey(_options, message.Topic, message.Key);
        CheckPublishable(message, routingKey);

        var messageId = message.Id.ToString("D");
        BrokerSession? session = null;
        var blockEpoch = 0;
        var ticket = 0L;
        try
        {
            session = await _connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
            // Nothing more goes into a blocked connection: the broker would not read it, and every publish that timed
            // out there would be published again later (duplicates).
            session.ThrowIfUnavailable();
            blockEpoch = session.BlockEpoch;
            ticket = session.NextTicket();
            var properties = AmqpMessage.CreateProperties(message, messageId);
            TagSendSpan(session, routingKey);
            if (!SkipEnvelopeChecks)
            {
                CheckEnvelope(message, properties, session.Connection.FrameMax);
            }

            await DeclareForPublishAsync(session, message, routingKey, cancellationToken).ConfigureAwait(false);
            var channel = await session.GetPublishChannelAsync(cancellationToken).ConfigureAwait(false);
            await channel.BasicPublishAsync(_options.ExchangeName, routingKey, mandatory: true,
                properties, message.Payload, cancellationToken).ConfigureAwait(false);
            session.Confirmed(ticket);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // No confirm in time. If the broker was blocked (an alarm) or the connection went down meanwhile, that is
            // why, and it is not the message's fault; otherwise the caller decides (a slow broker, or this message).
            if (session is not null && (session.BlockedReason is not null || session.BlockEpoch != blockEpoch))
            {
                throw session.Blocked(session.BlockedReason ?? "blocked while the publish waited for its confirm");
            }

            if (session is not null && !session.IsUsable)
            {
                throw new TransportUnavailableException(
                    $"The connection to RabbitMQ at {_connection.Endpoint} went down before message {messageId} was confirmed.");
            }

            if (session is not null && ticket > 0 && !session.ConfirmedAfter(ticket))
            {
                // No publish that started after this one was confirmed either: the broker is not keeping up or not
                // answering at all (e.g. it stopped reading the socket under an alarm before its connection.blocked
                // arrived, or it works through a backlog after one), so the wait is not this message's fault. A
                // message that alone is never confirmed is still found: the relay publishes suspects of repeated
                // outages alone and charges them.
                throw new TransportUnavailableException(
                    $"RabbitMQ at {_connection.Endpoint} confirmed no later message either while message {messageId} waited for its confirm: " +
                    "the broker is not keeping up.");
            }

            throw;
        }
        catch (TransportException ex) when (ex is not TransportUnavailableException && ex.IsTransient && session is { IsUsable: false })
        {
            // E.g. a declaration that failed because the connection dropped under it.
            throw new TransportUnavailableException(ex.Message, ex);
        }
        catch (TransportException)
        {
            throw;
        }
        catch (PublishException ex) when (ex.IsReturn)
        {
            throw Unroutable(session!, message, messageId, ex);
        }
        catch (PublishException ex)
        {
            throw new TransportException(
                $"RabbitMQ nacked message {messageId} for topic '{message.Topic}' on exchange '{_options.ExchangeName}': the broker could not " +
                "take responsibility for it (an internal error, or a queue full with overflow reject-publish). It will be retried.", ex);
        }
        catch (OperationInterruptedException ex)
        {
            throw Interrupted(session, message, messageId, ex);
        }
        catch (Exception ex) when (ex is not ObjectDisposedException)
        {
            var text = $"Publishing message {messageId} for topic '{message.Topic}' to exchange '{_options.ExchangeName}' on RabbitMQ at " +
                $"{_connection.Endpoint} failed: {ex.Message}";
            throw session is { IsUsable: false } ? new TransportUnavailableException(text, ex) : new TransportException(text, ex);
        }

        // The client correlates a basic.return with its publish through a sequence-number header; should that fail,
        // the return (which the broker sends before the ack) is still recorded by message id, so it is never lost.
        if (session.TryTakeReturn(messageId, out _))
        {
            throw Unroutable(session, message, messageId, null);
        }
    }

    /// <summary>
    /// Declares what this publish still needs (normally <see cref="PrepareAsync"/> already did, outside the publish
    /// timeout). Declaring is not publishing: when the declaration does not answer in time (the publish timeout ran out,
    /// or the client's own continuation timeout did) the broker is not keeping up, and the message is released without
    /// an attempt charged. The declaration itself goes on in the background, so the next round finds it done.
    /// </summary>
    /// <summary>
    /// Names RabbitMQ on the relay's <c>send</c> span (OpenTelemetry messaging conventions: the destination is the
    /// exchange, the routing key its own attribute).
    /// </summary>
    private void TagSendSpan(BrokerSession session, string routingKey)
    {
        if (Activity.Current is not { IsAllDataRequested: true, Kind: ActivityKind.Producer } span || span.Source.Name != PostboxActivitySource.Name)
        {
            return;
        }

        span.SetTag("messaging.system", "rabbitmq");
        span.SetTag("messaging.destination.name", _options.ExchangeName);
        span.SetTag("messaging.rabbitmq.destination.routing_key", routingKey);
        span.SetTag("server.address", session.Connection.Endpoint.HostName);
        span.SetTag("server.port", session.Connection.Endpoint.Port);
    }

    private async Task DeclareForPublishAsync(BrokerSession session, OutboxEnvelope message, string routingKey, CancellationToken cancellationToken)
    {
        try
        {
            await session.EnsureExchangeAsync(cancellationToken).ConfigureAwait(false);
            if (_options.DeclareQueues)
            {
                await session.EnsureQueueAsync(routingKey, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException ex)
        {
            throw new TransportUnavailableException(
                $"Declaring the topology for message {message.Id} (topic '{message.Topic}') on RabbitMQ at {_connection.Endpoint} did not complete " +
                "in time: the broker is not keeping up. The message is released without an attempt.", ex) { BeforePublish = true };
        }
        catch (TransportUnavailableException ex) when (!ex.BeforePublish)
        {
            // E.g. the client's own continuation timeout on the declaration, or the connection lost under it: either way
            // this message was not sent, so it cannot be what broke anything.
            throw new TransportUnavailableException(ex.Message, ex.InnerException ?? ex) { BeforePublish = true };
        }
    }

    /// <summary>
    /// Declares the exchange and the queues of <paramref name="topics"/> not declared yet, concurrently, so that the
    /// relay's publish timeout never includes topology set-up. Declaration failures other than an unavailable broker
    /// are left to the publishes, which retry the declaration and report it for their message.
    /// </summary>
    /// <param name="topics">Distinct topics of the next batch.</param>
    /// <param name="cancellationToken">Cancels waiting (declarations already sent complete in the background).</param>
    /// <exception cref="TransportUnavailableException">The broker cannot be reached or blocks the connection.</exception>
    public async ValueTask PrepareAsync(IReadOnlyCollection<string> topics, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var session = await _connection.GetSessionAsync(cancellationToken).ConfigureAwait(false);
        session.ThrowIfUnavailable();
        try
        {
            await session.EnsureExchangeAsync(cancellationToken).ConfigureAwait(false);
            if (!_options.DeclareQueues)
            {
                return;
            }

            var declarable = topics.Where(topic => !string.IsNullOrEmpty(topic) && Encoding.UTF8.GetByteCount(_options.QueuePrefix + topic) <= 255);
            await session.EnsureQueuesAsync(declarable, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !session.IsUsable)
        {
            throw new TransportUnavailableException($"Declaring the topology on RabbitMQ at {_connection.Endpoint} failed: the connection is down.", ex);
        }
    }

    /// <summary>
    /// Completes when the transport can publish: a connection is open (a fresh one is tried at once if the current
    /// one is recovering) and the broker does not block it.
    /// </summary>
    /// <param name="cancellationToken">Bounds the check.</param>
    /// <exception cref="TransportUnavailableException">The broker cannot be reached or blocks the connection.</exception>
    public ValueTask ProbeAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _connection.ProbeAsync(cancellationToken);
    }

    private void CheckPublishable(OutboxEnvelope message, string routingKey)
    {
        if (string.IsNullOrEmpty(message.Topic) || Encoding.UTF8.GetByteCount(message.Topic) > 255)
        {
            throw new TransportException(
                $"Message {message.Id} cannot be published to RabbitMQ: its topic '{message.Topic}' must be 1 to 255 bytes (it is the routing key).",
                null, isTransient: false);
        }

        // A partitioned topic's routing key and queue carry the ".p{n}" suffix: the limits apply to those names.
        if (Encoding.UTF8.GetByteCount(routingKey) > 255)
        {
            throw new TransportException(
                $"Message {message.Id} cannot be published to RabbitMQ: its routing key '{routingKey}' (topic plus partition suffix) exceeds 255 bytes.",
                null, isTransient: false);
        }

        if (_options.DeclareQueues && Encoding.UTF8.GetByteCount(_options.QueuePrefix + routingKey) > 255)
        {
            throw new TransportException(
                $"Message {message.Id} cannot be published to RabbitMQ: the queue name '{_options.QueuePrefix}{routingKey}' for its topic exceeds 255 bytes.",
                null, isTransient: false);
        }

        var max = Interlocked.Read(ref _maxMessageSize);
        if (max > 0 && message.Payload.Length > max)
        {
            throw TooLarge(message, max, null);
        }
    }

    /// <summary>
    /// Refuses, without touching the connection, a message whose properties and headers the broker would not accept:
    /// a short string over 255 bytes, or a content header frame larger than the negotiated <c>frame_max</c>, which
    /// makes RabbitMQ close the whole connection (<c>501 FRAME_ERROR</c>) and fail every publish in flight on it.
    /// </summary>
    private void CheckEnvelope(OutboxEnvelope message, BasicProperties properties, uint frameMax)
    {
        string? problem = null;
        if (AmqpMessage.FirstOversizedShortString(properties) is { } field)
        {
            problem = $"its {field} is longer than 255 bytes in UTF-8 (an AMQP short string)";
        }
        else if (frameMax > 0 && AmqpMessage.ContentHeaderFrameSize(properties) is var size && size > frameMax)
        {
            problem = $"its properties and headers take {size} bytes in one frame ({message.Headers.Count} headers), more than the connection's " +
                $"frame_max of {frameMax} bytes; RabbitMQ would close the connection (501 FRAME_ERROR). Put large data in the payload";
        }

        if (problem is not null)
        {
            var messageId = message.Id.ToString("D");
            Log.MessageRefused(_logger, messageId, message.Topic, problem);
            throw new TransportException(
                $"RabbitMQ cannot carry message {messageId} for topic '{message.Topic}': {problem}. Retrying cannot help.", null, isTransient: false);
        }
    }

    private TransportException Unroutable(BrokerSession session, OutboxEnvelope message, string messageId, Exception? cause)
    {
        var reason = session.TryTakeReturn(messageId, out var returned) ? $"{returned.ReplyCode} {returned.ReplyText}" : "312 NO_ROUTE";
        Log.MessageReturned(_logger, messageId, message.Topic, _options.ExchangeName, returned.ReplyCode, returned.ReplyText ?? "NO_ROUTE");
        string advice;
        if (_options.DeclareQueues)
        {
            // The queue Postbox declared may have been deleted since: declare it again on the next attempt.
            session.ForgetQueue(Partitioning.RoutingKey(_options, message.Topic, message.Key));
            advice = $"The queue '{_options.QueuePrefix}{message.Topic}' may have been deleted; it is declared again on the next attempt.";
        }
        else
        {
            advice = "Bind a queue to the exchange for this topic (DeclareQueues is off, so Postbox binds none).";
        }

        return new TransportException(
            $"RabbitMQ returned message {messageId} as unroutable ({reason}): no queue is bound to exchange '{_options.ExchangeName}' " +
            $"for topic '{message.Topic}' (the routing key). {advice} The message will be retried.", cause);
    }

    private TransportException Interrupted(BrokerSession? session, OutboxEnvelope message, string messageId, OperationInterruptedException exception)
    {
        var reason = exception.ShutdownReason;
        var code = reason?.ReplyCode ?? 0;
        var text = reason?.ReplyText ?? exception.Message;
        if (code == Constants.PreconditionFailed && TryParseMaxMessageSize(text, out var max))
        {
            if (Interlocked.Exchange(ref _maxMessageSize, max) != max)
            {
                Log.MaxMessageSizeLearned(_logger, max);
            }

            if (message.Payload.Length > max)
            {
                return TooLarge(message, max, exception);
            }

            return new TransportUnavailableException(
                $"The channel carrying message {messageId} for topic '{message.Topic}' was closed by RabbitMQ because another message exceeded " +
                $"max_message_size ({max} bytes). It is published again, without an attempt charged.", exception);
        }

        if (code == Constants.NotFound && text.Contains("exchange", StringComparison.OrdinalIgnoreCase))
        {
            session?.ForgetTopology();
            return new TransportException(
                $"RabbitMQ closed the channel publishing message {messageId} for topic '{message.Topic}': exchange '{_options.ExchangeName}' " +
                $"does not exist ({code} {text}); it is declared again on the next attempt.", exception);
        }

        // The channel or the connection closed under the publish: not this message's fault as far as we know (one that
        // breaks the connection by itself is found by the relay, see its SuspectMessages).
        return new TransportUnavailableException(
            $"The channel or connection to RabbitMQ at {_connection.Endpoint} closed before message {messageId} for topic '{message.Topic}' " +
            $"on exchange '{_options.ExchangeName}' was confirmed ({code} {text}). The broker may or may not have it; it is published again.", exception);
    }

    private TransportException TooLarge(OutboxEnvelope message, long max, Exception? cause) =>
        new($"RabbitMQ refuses message {message.Id} for topic '{message.Topic}' on exchange '{_options.ExchangeName}': its body of " +
            $"{message.Payload.Length} bytes exceeds the broker's max_message_size of {max} bytes. Retrying cannot help.", cause, isTransient: false);

    /// <summary>
    /// Reads the broker's limit from the reason it gives for closing a channel over an oversized message:
    /// <c>PRECONDITION_FAILED - message size 200 is larger than configured max size 100</c>.
    /// </summary>
    internal static bool TryParseMaxMessageSize(string replyText, out long maxSize)
    {
        maxSize = 0;
        return replyText.Contains("message size", StringComparison.OrdinalIgnoreCase)
            && MaxSizeRegex().Match(replyText) is { Success: true } match
            && long.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out maxSize);
    }

    [GeneratedRegex(@"max(?:imum)? size (\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex MaxSizeRegex();

    /// <summary>Closes the channels and the connection (bounded by <see cref="RabbitMQTransportOptions.ConnectionTimeout"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
