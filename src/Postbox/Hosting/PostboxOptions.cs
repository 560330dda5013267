using Postbox.Relay;

namespace Postbox.Hosting;

/// <summary>Top-level Postbox options, bound from the <c>Postbox</c> configuration section by convention.</summary>
public sealed class PostboxOptions
{
    /// <summary>The relay's options.</summary>
    public RelayOptions Relay { get; set; } = new();

    /// <summary>Largest payload accepted by <see cref="IOutbox.EnqueueAsync(System.Data.Common.DbTransaction, OutboxMessage, CancellationToken)"/>. Default 4 MiB; 1 byte to 128 MiB.</summary>
    public int MaxPayloadBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Apply the store's migrations when the host starts (before the relay runs). Default <see langword="false"/>.</summary>
    public bool MigrateOnStart { get; set; }
}
