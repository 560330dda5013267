namespace Postbox.Service.Cli;

/// <summary>The exit codes of <c>admin</c>, for scripts (documented in the service's README).</summary>
internal static class AdminExitCodes
{
    /// <summary>Done: every named message was found and acted on.</summary>
    public const int Done = 0;

    /// <summary>The arguments are wrong (System.CommandLine's own code for a parse error).</summary>
    public const int BadArguments = 1;

    /// <summary>The configuration is invalid (as for every other command).</summary>
    public const int BadConfiguration = 2;

    /// <summary>A named message was not found, or not in a state the action applies to; the others were acted on.</summary>
    public const int NotApplicable = 3;

    /// <summary>The store failed: unreachable, or its tables not migrated.</summary>
    public const int StoreFailed = 4;
}
