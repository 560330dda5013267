using System.Text.Json;
using Postbox.Relay;

namespace Postbox.Hosting;

/// <summary>Top-level Postbox options, bound from the <c>Postbox</c> configuration section by convention.</summary>
public sealed class PostboxOptions
{
    /// <summary>The relay's options.</summary>
    public RelayOptions Relay { get; set; } = new();

    /// <summary>Largest payload accepted by <see cref="IOutbox.EnqueueAsync(System.Data.Common.DbTransaction, OutboxMessage, CancellationToken)"/>. Default 4 MiB; 1 byte to 128 MiB.</summary>
    public int MaxPayloadBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Serializer options of the typed
    /// <see cref="IOutbox.EnqueueAsync{T}(System.Data.Common.DbTransaction, string, T, string?, int?, DateTimeOffset?, CancellationToken)"/>.
    /// Default <see langword="null"/>: <see cref="JsonSerializerOptions.Web"/>, which is also what handlers read with
    /// unless their <c>HandlerOptions.JsonOptions</c> say otherwise. Set in code (not bound from configuration).
    /// </summary>
    public JsonSerializerOptions? JsonOptions { get; set; }

    /// <summary>Apply the store's migrations when the host starts (before the relay runs). Default <see langword="false"/>.</summary>
    public bool MigrateOnStart { get; set; }
}
