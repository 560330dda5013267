namespace Postbox.Service.Hosting;

/// <summary>
/// The dashboard's address and credentials (configuration section <c>Dashboard</c>). The credentials protect every page,
/// API call and action with HTTP basic authentication; they live in configuration only (appsettings, environment
/// <c>Dashboard__Password</c>, command line), never in a table.
/// </summary>
internal sealed class DashboardSettings
{
    /// <summary>Where the <c>dashboard</c> subcommand listens when <c>--urls</c> is not given. Default <c>http://localhost:3081</c>.</summary>
    public string Urls { get; set; } = "http://localhost:3081";

    /// <summary>The user name. Default <c>admin</c>.</summary>
    public string UserName { get; set; } = "admin";

    /// <summary>The password. When empty, one is generated at each start and printed in the start-up banner.</summary>
    public string? Password { get; set; }

    /// <summary>Every problem with these settings (values are never echoed: they are credentials).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrEmpty(UserName) || UserName.Contains(':', StringComparison.Ordinal) || UserName.Any(char.IsControl))
        {
            errors.Add("Dashboard:UserName must be a non-empty name without ':' or control characters.");
        }

        if (Password is { Length: > 0 } password && (password.Any(char.IsControl) || password.Length < 8))
        {
            errors.Add("Dashboard:Password must be at least 8 characters without control characters (or empty: one is generated and printed at start).");
        }

        return errors;
    }
}
