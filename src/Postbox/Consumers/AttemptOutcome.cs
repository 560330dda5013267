namespace Postbox.Consumers;

/// <summary>How an attempt ended, which decides how the delivery is settled.</summary>
internal enum AttemptOutcome
{
    /// <summary>The handler's transaction committed: acknowledge.</summary>
    Succeeded,

    /// <summary>Already recorded (or the retry lease was lost): acknowledge without running the handler.</summary>
    Duplicate,

    /// <summary>Failed; the next attempt is scheduled in the inbox: acknowledge.</summary>
    RetryScheduled,

    /// <summary>Failed its last attempt; kept as a dead letter: acknowledge.</summary>
    DeadLettered,

    /// <summary>An earlier message of its key is unfinished: kept in the inbox behind it: acknowledge.</summary>
    Parked,

    /// <summary>Interrupted by shutdown: hand back (requeue, or release the retry).</summary>
    HandedBack,
}
