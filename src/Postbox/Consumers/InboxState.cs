namespace Postbox.Consumers;

/// <summary>State of an inbox row.</summary>
public enum InboxState
{
    /// <summary>Handled: the handler's transaction committed.</summary>
    Processed = 1,

    /// <summary>Failed at least once; waiting for its next attempt.</summary>
    Retrying = 2,

    /// <summary>Failed its last attempt: kept with its history until replayed.</summary>
    Dead = 3,
}
