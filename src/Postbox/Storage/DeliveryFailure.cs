namespace Postbox.Storage;

/// <summary>A failed publish attempt to record.</summary>
/// <param name="Id">The message.</param>
/// <param name="Error">What went wrong (the store truncates it to its bounded length).</param>
/// <param name="NextAttemptAt">When the message becomes due again (ignored when <paramref name="Dead"/>).</param>
/// <param name="Dead">Whether this was the last attempt: the message is kept as dead, visible and replayable.</param>
/// <remarks>Provider SPI, for authors of stores and transports (see <c>docs/public-api.md</c>): applications do not use it.</remarks>
public readonly record struct DeliveryFailure(Guid Id, string Error, DateTimeOffset NextAttemptAt, bool Dead);
