namespace Postbox.Service.Cli;

/// <summary>What <c>admin</c> does to messages named by id.</summary>
internal enum AdminAction
{
    /// <summary>Dead letters become due with a fresh attempt budget.</summary>
    Replay,

    /// <summary>Scheduled messages become due now.</summary>
    RetryNow,

    /// <summary>Messages no relay or worker holds are deleted.</summary>
    Delete,
}
