namespace Postbox.Storage;

/// <summary>What one claim returned.</summary>
/// <param name="Messages">The claimed messages, leased to the claiming relay, ordered by <see cref="OutboxEnvelope.Sequence"/>.</param>
/// <param name="NextKeyCursor">Where the next claim of this relay should resume its round of keys (pass it as
/// <see cref="ClaimRequest.KeyCursor"/>).</param>
/// <param name="MayHaveMore">
/// <see langword="true"/> when the claim stopped at one of its bounds (as many keys looked at, or as many messages taken,
/// as <see cref="ClaimRequest.BatchSize"/>) rather than because nothing else was due: the relay should claim again at once.
/// </param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record ClaimResult(IReadOnlyList<OutboxEnvelope> Messages, string? NextKeyCursor, bool MayHaveMore)
{
    /// <summary>
    /// How many keyless messages of paused topics the claim parked instead of leasing (see
    /// <c>Monitoring.IPostboxPauses</c>). Parking is progress (each parked message leaves the claim's way for good), so a
    /// claim that only parked does not count as an empty scan. Default 0.
    /// </summary>
    public int Parked { get; init; }

    /// <summary>Nothing was due.</summary>
    public static ClaimResult Empty { get; } = new([], null, false);
}
