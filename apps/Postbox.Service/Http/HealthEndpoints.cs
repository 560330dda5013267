using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Postbox.Service.Http;

/// <summary>
/// <c>/health/live</c> (the checks tagged live: the relay loop), <c>/health/ready</c> (every check: database,
/// transport, oldest pending message, relay loop) and <c>/health</c>, kept for existing callers, which is the ready
/// report. 200 when healthy or degraded, 503 when unhealthy; the body lists each check as JSON.
/// </summary>
internal static class HealthEndpoints
{
    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        var live = Options(r => r.Tags.Contains(PostboxHealthChecks.LiveTag));
        var ready = Options(r => r.Tags.Contains(PostboxHealthChecks.ReadyTag));
        app.MapHealthChecks("/health/live", live).ExcludeFromDescription();
        app.MapHealthChecks("/health/ready", ready).ExcludeFromDescription();
        app.MapHealthChecks("/health", ready).ExcludeFromDescription();
    }

    private static HealthCheckOptions Options(Func<HealthCheckRegistration, bool> predicate) =>
        new() { Predicate = predicate, ResponseWriter = WriteAsync };

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonSerializerOptions.Web), context.RequestAborted);
    }
}
