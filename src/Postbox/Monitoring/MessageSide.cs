namespace Postbox.Monitoring;

/// <summary>Which table a monitored message lives in.</summary>
public enum MessageSide
{
    /// <summary>The producer side: messages waiting to be published, published (delivered) or dead.</summary>
    Outbox = 0,

    /// <summary>The consumer side: one row per (message, consumer), retrying, processed or dead.</summary>
    Inbox = 1,
}
