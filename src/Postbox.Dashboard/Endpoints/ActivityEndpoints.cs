using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Postbox.Monitoring;

namespace Postbox.Dashboard;

/// <summary>
/// The servers page's and the overview charts' JSON API: <c>GET api/servers</c> (the heartbeat rows, stale ones marked)
/// and <c>GET api/stats</c> (per topic and consumer: the last hour per minute, and the totals of the last 1 and 5
/// minutes), read through the store's <see cref="IServerRegistry"/>. Without one registered both answer 404.
/// </summary>
internal static class ActivityEndpoints
{
    /// <summary>Minutes the charts show.</summary>
    public const int ChartMinutes = 60;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/api/servers", async (HttpContext context, CancellationToken cancellationToken) =>
        {
            if (context.RequestServices.GetService<IServerRegistry>() is not { } registry)
            {
                return Results.Problem(statusCode: 404, title: "The store keeps no heartbeats (no IServerRegistry registered).");
            }

            var now = Now(context);
            var servers = await registry.ListServersAsync(cancellationToken).ConfigureAwait(false);
            return Results.Json(new
            {
                At = now,
                StaleAfterMissedBeats = ServerHeartbeat.StaleAfterMissedBeats,
                Servers = servers.Select(s => new
                {
                    s.OwnerId,
                    s.Role,
                    s.Host,
                    s.ProcessId,
                    s.StartedAt,
                    s.HeartbeatAt,
                    HeartbeatIntervalMs = (long)s.HeartbeatInterval.TotalMilliseconds,
                    s.Handlers,
                    Stale = s.IsStaleAt(now),
                }),
            }, Json);
        });

        group.MapGet("/api/stats", async (HttpContext context, CancellationToken cancellationToken) =>
        {
            if (context.RequestServices.GetService<IServerRegistry>() is not { } registry)
            {
                return Results.Problem(statusCode: 404, title: "The store keeps no stats (no IServerRegistry registered).");
            }

            var now = Now(context);
            var view = ActivityView.Build(await registry.GetStatsAsync(ActivityView.FirstMinute(now, ChartMinutes), cancellationToken).ConfigureAwait(false),
                now, ChartMinutes);
            return Results.Json(view, Json);
        });
    }

    private static DateTimeOffset Now(HttpContext context) =>
        (context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
}
