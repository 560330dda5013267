namespace Postbox.Monitoring;

/// <summary>
/// One page of a list by state. Lists are paged by keyset (<see cref="After"/>), never by offset, so a page costs the
/// same on a table of millions of rows. Order: the state's natural one — newest first for ready, in flight, dead and
/// done; soonest due first for scheduled.
/// </summary>
/// <param name="Side">Outbox or inbox.</param>
/// <param name="State">The state listed.</param>
/// <param name="Filter">Topic, consumer and key filters.</param>
/// <param name="After">The <see cref="MessagePage.Next"/> cursor of the previous page; <see langword="null"/> for the first page.</param>
/// <param name="Limit">Page size, 1 to 500.</param>
public sealed record MessageQuery(MessageSide Side, MessageState State, MessageFilter Filter, string? After = null, int Limit = 50)
{
    /// <summary>The largest page size.</summary>
    public const int MaxLimit = 500;
}
