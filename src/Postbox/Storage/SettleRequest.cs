namespace Postbox.Storage;

/// <summary>
/// The outcome of one published batch, written back in a single round trip. Every change is
/// conditional on <see cref="Owner"/> still holding the lease, so a relay whose lease was taken over
/// changes nothing.
/// </summary>
/// <param name="Owner">The relay that claimed the messages.</param>
/// <param name="Now">Settle time (delivery time, release time).</param>
/// <param name="Delivered">Messages the broker confirmed.</param>
/// <param name="Failed">Messages whose attempt failed.</param>
/// <param name="Released">Messages handed back unattempted (e.g. behind a failed message of the same key).</param>
/// <param name="DeleteDelivered">Delete delivered rows at once instead of keeping them for the retention window.</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public sealed record SettleRequest(
    string Owner,
    DateTimeOffset Now,
    IReadOnlyList<Guid> Delivered,
    IReadOnlyList<DeliveryFailure> Failed,
    IReadOnlyList<Guid> Released,
    bool DeleteDelivered);
