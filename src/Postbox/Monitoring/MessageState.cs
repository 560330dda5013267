namespace Postbox.Monitoring;

/// <summary>
/// The one vocabulary of message states the dashboard and the admin CLI use for both sides. Each store maps its own
/// stored states onto these.
/// </summary>
public enum MessageState
{
    /// <summary>Outbox only: waiting to be claimed by a relay.</summary>
    Ready = 0,

    /// <summary>Being worked on under a lease: claimed by a relay (outbox) or by a worker's retry (inbox).</summary>
    InFlight = 1,

    /// <summary>Waiting for a due time: a delayed message or a retry after a failed attempt (outbox), a retry or a
    /// message parked behind an earlier one of its key (inbox).</summary>
    Scheduled = 2,

    /// <summary>Gave up after the last attempt: kept with its errors until replayed or deleted.</summary>
    Dead = 3,

    /// <summary>Finished: delivered to the broker (outbox) or handled (inbox); kept for the retention window.</summary>
    Done = 4,
}
