using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Postbox.Diagnostics;
using Postbox.Tests.Relay;

namespace Postbox.Tests.Diagnostics;

/// <summary><c>AddPostboxInstrumentation()</c> (Postbox.OpenTelemetry) through the SDK and its in-memory exporter.</summary>
public sealed class OpenTelemetryInstrumentationTests
{
    [Fact]
    public void Names_AreTheCoresSourceAndMeter()
    {
        Assert.Equal(PostboxActivitySource.Name, PostboxInstrumentation.ActivitySourceName);
        Assert.Equal(PostboxMetrics.MeterName, PostboxInstrumentation.MeterName);
    }

    [Fact]
    public void Tracing_WithPostboxInstrumentation_ExportsPostboxActivities_AndWithoutItNone()
    {
        var exported = new List<Activity>();
        var without = new List<Activity>();
        using (Sdk.CreateTracerProviderBuilder().AddInMemoryExporter(without).Build())
        using (var provider = Sdk.CreateTracerProviderBuilder().AddPostboxInstrumentation().AddInMemoryExporter(exported).Build())
        {
            using (PostboxActivitySource.Instance.StartActivity("send orders", ActivityKind.Producer))
            {
            }

            provider.ForceFlush();
        }

        // Filtered: tests running in parallel may enqueue and publish (create/send spans) while the provider listens.
        var activity = Assert.Single(exported, a => a.DisplayName == "send orders");
        Assert.Equal(("send orders", ActivityKind.Producer, "Postbox"), (activity.DisplayName, activity.Kind, activity.Source.Name));
        Assert.Empty(without);
    }

    [Fact]
    public void Metrics_WithPostboxInstrumentation_ExportPostboxInstruments()
    {
        var exported = new List<Metric>();
        using var factory = new TestMeterFactory();
        using var provider = Sdk.CreateMeterProviderBuilder().AddPostboxInstrumentation().AddInMemoryExporter(exported).Build();
        var metrics = new PostboxMetrics(factory, TimeProvider.System);
        metrics.Published("orders", 3);
        provider.ForceFlush();

        var published = Assert.Single(exported, m => m.Name == "postbox.relay.published");
        long sum = 0;
        foreach (ref readonly var point in published.GetMetricPoints())
        {
            sum += point.GetSumLong();
        }

        Assert.Equal(3, sum);
    }
}
