using Postbox.Service.Http;
using Postbox.Storage;

namespace Postbox.Service.Hosting;

/// <summary>
/// Stands in for the dashboard until it lands: a page saying so, and the outbox statistics as JSON
/// (<see cref="IOutboxMonitor"/>), which is what the dashboard will build on.
/// </summary>
internal static class DashboardPlaceholder
{
    public static void MapDashboardPlaceholder(this IEndpointRouteBuilder app, bool rootPage)
    {
        const string Page = """
            <!doctype html><html><head><meta charset="utf-8"><title>Postbox dashboard</title></head><body>
            <h1>Postbox dashboard</h1><p>The dashboard is not available yet. Outbox statistics:
            <a href="/dashboard/api/statistics">/dashboard/api/statistics</a>.</p></body></html>
            """;
        var group = app.MapGroup("/dashboard").WithTags("Dashboard").ExcludeFromDescription();
        group.MapGet("/", () => TypedResults.Content(Page, "text/html; charset=utf-8"));
        group.MapGet("/api/statistics", async (IOutboxMonitor monitor, CancellationToken cancellationToken) => TypedResults.Ok(new
        {
            statistics = await monitor.GetStatisticsAsync(cancellationToken).ConfigureAwait(false),
            dead = await monitor.ListDeadAsync(20, cancellationToken).ConfigureAwait(false),
        })).UsesDatabase(); // Stale pooled connections after a restart are retried, a database that is down is a 503.
        if (rootPage)
        {
            app.MapGet("/", () => Results.Redirect("/dashboard")).ExcludeFromDescription();
        }
    }
}
