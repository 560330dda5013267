using System.Diagnostics;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Postbox.Service.Hosting;

/// <summary>
/// Exports traces, metrics and logs over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard variables —
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_SERVICE_NAME</c>, <c>OTEL_BSP_SCHEDULE_DELAY</c>, ... — configure the
/// exporter); nothing otherwise, so the out-of-the-box run needs no collector. Traces: ASP.NET Core's server spans, Npgsql's
/// command spans, Postbox's create/send/process spans and the service's own mail spans (<see cref="SourceName"/>), so a
/// mail's request, enqueue, publish, handling and SMTP send are one trace. Metrics: Postbox's meter, ASP.NET Core's and
/// Npgsql's. Health probes are not traced (an orchestrator polls them every few seconds).
/// </summary>
internal static class Telemetry
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The service's own activity source: <c>smtp send</c> and <c>pickup write</c> spans around a mail's delivery.</summary>
    public const string SourceName = "Postbox.Service";

    public static ActivitySource Source { get; } = new(SourceName);

    public static void AddTelemetry(this IHostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration[EndpointVariable]))
        {
            return;
        }

        builder.Services.AddOpenTelemetry()
            .WithTracing(t => t
                .AddPostboxInstrumentation()
                .AddSource(SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase))
                .AddNpgsql()
                .AddOtlpExporter())
            .WithMetrics(m => m
                .AddPostboxInstrumentation()
                .AddAspNetCoreInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddOtlpExporter())
            .WithLogging(l => l.AddOtlpExporter());
    }
}
