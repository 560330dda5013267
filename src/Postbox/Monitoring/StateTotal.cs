namespace Postbox.Monitoring;

/// <summary>How many messages are in one state, counted up to a bound.</summary>
/// <param name="State">The state.</param>
/// <param name="Count">The count, at most the bound asked for.</param>
/// <param name="AtLeast"><see langword="true"/> when counting stopped at the bound: there are at least <paramref name="Count"/>.</param>
public sealed record StateTotal(MessageState State, long Count, bool AtLeast);
