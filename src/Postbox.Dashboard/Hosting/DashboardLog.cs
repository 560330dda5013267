using Microsoft.Extensions.Logging;

namespace Postbox.Dashboard;

/// <summary>Source-generated log methods of the dashboard (event ids 7xxx).</summary>
internal static partial class DashboardLog
{
    [LoggerMessage(7000, LogLevel.Information, "Dashboard: {User} ran {Action} on {Side}: {Count} of {Asked} messages.")]
    public static partial void ActionRan(ILogger logger, string user, string action, string side, int count, int asked);

    [LoggerMessage(7001, LogLevel.Information, "Dashboard: {User} replayed every dead message on {Side} (topic {Topic}, consumer {Consumer}, key {Key}): {Count}.")]
    public static partial void ReplayedAll(ILogger logger, string user, string side, string? topic, string? consumer, string? key, int count);

    [LoggerMessage(7002, LogLevel.Warning, "Dashboard: refused a {Method} to {Path} without a valid antiforgery token.")]
    public static partial void AntiforgeryRefused(ILogger logger, string method, string path);

    [LoggerMessage(7003, LogLevel.Warning, "Dashboard: refused a request from {Remote}: anonymous access is allowed on loopback only.")]
    public static partial void NotLoopback(ILogger logger, string? remote);

    [LoggerMessage(7005, LogLevel.Information, "Dashboard: {User} ran {Action} on {Side} {Name} (changed: {Changed}).")]
    public static partial void PauseChanged(ILogger logger, string user, string action, string side, string name, bool changed);

    [LoggerMessage(7004, LogLevel.Warning, "Dashboard mapped at {Prefix} WITHOUT authorization (AllowAnonymousOnLoopback): only loopback requests are served.")]
    public static partial void AnonymousOnLoopback(ILogger logger, string prefix);
}
