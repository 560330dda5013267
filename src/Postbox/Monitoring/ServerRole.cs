namespace Postbox.Monitoring;

/// <summary>What a process that writes a heartbeat runs.</summary>
public enum ServerRole
{
    /// <summary>A relay: publishes outbox messages; its owner id is the outbox's <c>lease_owner</c>.</summary>
    Relay = 0,

    /// <summary>A consumer worker: runs handlers; its owner id is the inbox's <c>lease_owner</c> of the retries it claims.</summary>
    Worker = 1,
}
