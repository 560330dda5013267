using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Postbox.Service.Hosting;

/// <summary>
/// Exports Postbox's traces and metrics, and the logs, over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the
/// standard variables — <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_SERVICE_NAME</c>, ... — configure the exporter);
/// nothing otherwise, so the out-of-the-box run needs no collector.
/// </summary>
internal static class Telemetry
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static void AddTelemetry(this IHostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration[EndpointVariable]))
        {
            return;
        }

        builder.Services.AddOpenTelemetry()
            .WithTracing(t => t.AddPostboxInstrumentation().AddOtlpExporter())
            .WithMetrics(m => m.AddPostboxInstrumentation().AddOtlpExporter())
            .WithLogging(l => l.AddOtlpExporter());
    }
}
