using System.Data.Common;
using Microsoft.Extensions.Options;
using Postbox.Diagnostics;
using Postbox.Hosting;
using Postbox.Relay;
using Postbox.Storage;

namespace Postbox.Producer;

/// <summary>Validates messages, stamps trace context and hands them to the store's writer.</summary>
internal sealed class Outbox : IOutbox, IOutboxPreparer
{
    private readonly IOutboxWriter _writer;
    private readonly RelaySignal _signal;
    private readonly TimeProvider _timeProvider;
    private readonly PostboxOptions _options;

    public Outbox(IOutboxWriter writer, RelaySignal signal, TimeProvider timeProvider, IOptions<PostboxOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        (_writer, _signal, _timeProvider, _options) = (writer, signal, timeProvider, options.Value);
    }

    public async Task<bool> EnqueueAsync(DbTransaction transaction, OutboxMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return await EnqueueAsync(transaction, [message], cancellationToken).ConfigureAwait(false) == 1;
    }

    public Task<bool> EnqueueAsync<T>(DbTransaction transaction, string topic, T value, string? key = null, int? maxAttempts = null,
        DateTimeOffset? availableAt = null, CancellationToken cancellationToken = default)
    {
        var message = OutboxMessage.FromJson(topic, value, _options.JsonOptions, key, maxAttempts: maxAttempts, availableAt: availableAt);
        return EnqueueAsync(transaction, message, cancellationToken);
    }

    public async Task<int> EnqueueAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(messages);
        if (transaction.Connection is null)
        {
            throw new ArgumentException("The transaction is no longer usable (committed, rolled back or disposed).", nameof(transaction));
        }

        if (messages.Count == 0)
        {
            return 0;
        }

        // The create spans cover the write, so a slow INSERT shows in the trace; they end whether or not it succeeds.
        using var spans = MessagingTracing.StampCreation(messages);
        int written;
        try
        {
            var now = Validate(messages);
            written = await _writer.WriteAsync(transaction, messages, now, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            spans.Failed(ex);
            throw;
        }

        // The caller has not committed yet; the relay re-checks briefly after a wake-up that finds nothing.
        Enqueued();
        return written;
    }

    public DateTimeOffset Prepare(IReadOnlyList<OutboxMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Callers that write on their own (PostgreSQL's batching outbox, EF Core's SaveChanges) get create spans that
        // mark the moment of enqueue.
        using var spans = MessagingTracing.StampCreation(messages);
        try
        {
            return Validate(messages);
        }
        catch (Exception ex)
        {
            spans.Failed(ex);
            throw;
        }
    }

    private DateTimeOffset Validate(IReadOnlyList<OutboxMessage> messages)
    {
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw new ArgumentException($"Message #{i} is null.", nameof(messages));

            // Validated after stamping: a trace state is any string some code set, and it is stored too.
            MessageValidator.Validate(message, i, _options.MaxPayloadBytes);
        }

        MessageIds.EnsureDistinct(messages);

        // A TimeProvider may answer with any offset; the stores hold UTC.
        return _timeProvider.GetUtcNow().ToUniversalTime();
    }

    public void Enqueued() => _signal.Notify();
}
