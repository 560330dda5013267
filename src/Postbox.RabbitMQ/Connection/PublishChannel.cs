using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Postbox.RabbitMQ.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Postbox.RabbitMQ.Connection;

/// <summary>
/// One publish slot: an AMQP channel in confirm mode with tracking, replaced when the broker closes it
/// (a channel-level error is not covered by automatic recovery, which only reopens channels after a
/// connection failure).
/// </summary>
internal sealed class PublishChannel : IAsyncDisposable
{
    private readonly int _slot;
    private readonly BrokerSession _session;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);

    // Bounds unconfirmed publishes on this channel and queues the rest (no rejection, no artificial delay,
    // unlike the client's default ThrottlingRateLimiter). Shared by the channels this slot opens over time:
    // a lease is released when its publish ends, whatever the fate of the channel.
    private readonly ConcurrencyLimiter _outstanding;
    private IChannel? _channel;

    public PublishChannel(int slot, BrokerSession session, int maxOutstandingConfirms, ILogger logger)
    {
        (_slot, _session, _logger) = (slot, session, logger);
        _outstanding = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = maxOutstandingConfirms,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary>Returns the open channel, opening a new one when the broker closed the previous one.</summary>
    public async ValueTask<IChannel> GetAsync(CancellationToken cancellationToken)
    {
        var channel = _channel;
        if (channel is { IsOpen: true })
        {
            return channel;
        }

        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            channel = _channel;
            if (channel is { IsOpen: true })
            {
                return channel;
            }

            // While the connection is down the closed channel belongs to automatic recovery: fail fast instead.
            _session.ThrowIfDown();
            if (channel is not null)
            {
                var reason = channel.CloseReason;
                Log.ChannelReplaced(_logger, _slot, reason?.ReplyCode ?? 0, reason?.ReplyText ?? "unknown");
                _channel = null;
                await _session.DisposeQuietlyAsync(channel).ConfigureAwait(false);
            }

            channel = await _session.Connection.CreateChannelAsync(
                new CreateChannelOptions(
                    publisherConfirmationsEnabled: true,
                    publisherConfirmationTrackingEnabled: true,
                    outstandingPublisherConfirmationsRateLimiter: _outstanding),
                cancellationToken).ConfigureAwait(false);
            channel.BasicReturnAsync += OnReturnAsync;
            _channel = channel;
            return channel;
        }
        finally
        {
            _lock.Release();
        }
    }

    private Task OnReturnAsync(object sender, BasicReturnEventArgs args)
    {
        _session.RecordReturn(args.BasicProperties.MessageId, args.ReplyCode, args.ReplyText);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        var channel = Interlocked.Exchange(ref _channel, null);
        if (channel is not null)
        {
            channel.BasicReturnAsync -= OnReturnAsync;
            await _session.DisposeQuietlyAsync(channel).ConfigureAwait(false);
        }

        await _outstanding.DisposeAsync().ConfigureAwait(false);
        _lock.Dispose();
    }
}
