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

    /// <summary>
    /// Whether the channel is established right now, so that every message committed from now on calls the wake-up.
    /// While <see langword="true"/>, an idle relay waits up to <c>RelayOptions.IdlePollInterval</c> between claims instead
    /// of <c>RelayOptions.PollInterval</c>. A source must report <see langword="false"/> while it reconnects, call the
    /// wake-up when the channel is lost (a relay in an idle wait then returns to the poll interval at once) and again
    /// once it is back (notifications sent meanwhile are lost). Default <see langword="false"/>: the relay
    /// keeps polling at the poll interval.
    /// </summary>
    bool IsListening => false;
}
