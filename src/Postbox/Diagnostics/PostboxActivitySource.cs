using System.Diagnostics;

namespace Postbox.Diagnostics;

/// <summary>The <see cref="ActivitySource"/> through which Postbox traces enqueue, publish and handling.</summary>
public static class PostboxActivitySource
{
    /// <summary>The source name, <c>Postbox</c>: add it to your tracer provider.</summary>
    public const string Name = "Postbox";

    /// <summary>The shared source instance.</summary>
    public static ActivitySource Instance { get; } = new(Name);
}
