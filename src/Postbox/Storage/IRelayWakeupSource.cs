namespace Postbox.Storage;

/// <summary>
/// A cross-process wake-up channel (PostgreSQL LISTEN/NOTIFY): calls back when another
/// process committed new messages. Optional: relays always fall back to polling.
/// </summary>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public interface IRelayWakeupSource
{
    /// <summary>Listens until <paramref name="cancellationToken"/> is cancelled, reconnecting on failure.</summary>
    /// <param name="wake">Called for each notification.</param>
    /// <param name="cancellationToken">Stops listening.</param>
    Task ListenAsync(Action wake, CancellationToken cancellationToken);
}
