using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Postbox.Service.Hosting;

namespace Postbox.Service.Tests;

/// <summary>The service exports over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (no collector is contacted here).</summary>
public sealed class TelemetryTests
{
    [Fact]
    public void Service_WithAnOtlpEndpoint_RegistersTracerAndMeterProviders_AndWithoutOneNone()
    {
        var folder = Infrastructure.TestEnvironment.TempFolder("otel");
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["Storage:Sqlite"] = $"Data Source={Path.Combine(folder, "service.db")}",
                ["Mail:PickupDirectory"] = Path.Combine(folder, "mail"),
            };
            using (var plain = ServiceApp.Build(ServiceRoles.All, [], settings, output: null))
            {
                Assert.Null(plain.Services.GetService<TracerProvider>());
                Assert.Null(plain.Services.GetService<MeterProvider>());
            }

            settings[Telemetry.EndpointVariable] = "http://127.0.0.1:4317";
            using var exporting = ServiceApp.Build(ServiceRoles.All, [], settings, output: null);
            Assert.NotNull(exporting.Services.GetService<TracerProvider>());
            Assert.NotNull(exporting.Services.GetService<MeterProvider>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
