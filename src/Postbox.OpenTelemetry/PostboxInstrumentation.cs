using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

#pragma warning disable IDE0130 // Extension methods live in OpenTelemetry's namespaces so they are found next to the SDK's own.
namespace OpenTelemetry;
#pragma warning restore IDE0130

/// <summary>
/// Adds Postbox's <see cref="System.Diagnostics.ActivitySource"/> and <see cref="System.Diagnostics.Metrics.Meter"/> to
/// OpenTelemetry providers. Without this package, <c>AddSource("Postbox")</c> and <c>AddMeter("Postbox")</c> do the same.
/// </summary>
public static class PostboxInstrumentation
{
    /// <summary>
    /// Name of Postbox's activity source: <c>create {topic}</c> at enqueue (kind Producer, a child of the enqueuing
    /// code's activity), <c>send {topic}</c> in the relay (kind Producer, the create span's child) and
    /// <c>process {topic}</c> in the consumers (kind Consumer, the send span's child); see docs/observability.md.
    /// </summary>
    public const string ActivitySourceName = "Postbox";

    /// <summary>Name of Postbox's meter (<c>postbox.relay.*</c>, <c>postbox.outbox.*</c>, <c>postbox.consumer.*</c>; see docs/operations.md).</summary>
    public const string MeterName = "Postbox";

    /// <summary>Collects Postbox's activities (relay publishes, consumer handling).</summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The builder.</returns>
    public static TracerProviderBuilder AddPostboxInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(ActivitySourceName);
    }

    /// <summary>Collects Postbox's metrics (published, failed, dead, batch duration, oldest pending age, consumer counts).</summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The builder.</returns>
    public static MeterProviderBuilder AddPostboxInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(MeterName);
    }
}
