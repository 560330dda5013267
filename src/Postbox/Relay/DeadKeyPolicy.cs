namespace Postbox.Relay;

/// <summary>What happens to the later messages of a key once one of its messages went dead.</summary>
public enum DeadKeyPolicy
{
    /// <summary>
    /// The key stops: its later messages wait until the dead message is replayed (or deleted). Keeps the
    /// per-key order strict, at the price of a stalled key that an operator must look at. The default.
    /// </summary>
    Block = 0,

    /// <summary>The dead message is skipped and the key goes on with its next message.</summary>
    Skip = 1,
}
