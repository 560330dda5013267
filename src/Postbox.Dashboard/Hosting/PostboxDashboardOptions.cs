namespace Postbox.Dashboard;

/// <summary>Options of the dashboard (<c>services.AddPostboxDashboard(o => ...)</c>).</summary>
public sealed class PostboxDashboardOptions
{
    /// <summary>
    /// The ASP.NET Core authorization policy every page, API call and action requires. Required unless
    /// <see cref="AllowAnonymousOnLoopback"/> is set: without either, <c>MapPostboxDashboard</c> throws and the app does
    /// not start. Default: <see langword="null"/>.
    /// </summary>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>
    /// Serve the dashboard without authorization, to requests from the loopback interface only (others get 403).
    /// For a developer's machine; never set it on a server reachable by others. Default: <see langword="false"/>.
    /// </summary>
    public bool AllowAnonymousOnLoopback { get; set; }

    /// <summary>
    /// Counts stop at this many rows per state and say "at least" beyond (1 to 10,000,000). Default: 10,000 (on a table
    /// of a million rows the overview took 3.5 s with 100,000, see docs/dashboard.md).
    /// </summary>
    public int CountLimit { get; set; } = 10_000;

    /// <summary>How often the overview refreshes itself (1 s to 10 min). Default: 5 s.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Rows per list page (1 to 500). Default: 50.</summary>
    public int PageSize { get; set; } = 50;

    /// <summary>Every error in the options, with its name; empty when they are valid.</summary>
    internal IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (AuthorizationPolicy is null && !AllowAnonymousOnLoopback)
        {
            errors.Add("PostboxDashboardOptions.AuthorizationPolicy: the dashboard requires an authorization policy chosen by the host "
                + "(AuthorizationPolicy = \"...\"); to run it without one on a developer's machine, set AllowAnonymousOnLoopback = true "
                + "(then only requests from 127.0.0.1/::1 are served).");
        }

        if (AuthorizationPolicy is { Length: 0 } || (AuthorizationPolicy is not null && string.IsNullOrWhiteSpace(AuthorizationPolicy)))
        {
            errors.Add("PostboxDashboardOptions.AuthorizationPolicy: must not be blank.");
        }

        if (CountLimit is < 1 or > 10_000_000)
        {
            errors.Add($"PostboxDashboardOptions.CountLimit: {CountLimit} is outside 1 to 10,000,000.");
        }

        if (RefreshInterval < TimeSpan.FromSeconds(1) || RefreshInterval > TimeSpan.FromMinutes(10))
        {
            errors.Add($"PostboxDashboardOptions.RefreshInterval: {RefreshInterval} is outside 1 s to 10 min.");
        }

        if (PageSize is < 1 or > 500)
        {
            errors.Add($"PostboxDashboardOptions.PageSize: {PageSize} is outside 1 to 500.");
        }

        return errors;
    }
}
