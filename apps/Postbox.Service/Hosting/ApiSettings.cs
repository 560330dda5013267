namespace Postbox.Service.Hosting;

/// <summary>HTTP API limits (configuration section <c>Api</c>).</summary>
internal sealed class ApiSettings
{
    /// <summary>Largest request body accepted; larger ones get <c>413</c>. Default 1 MiB.</summary>
    public long MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The <c>Retry-After</c> of a <c>503</c> while the database cannot be reached, rounded up to whole seconds. Default
    /// 5 s; 1 s to 1 hour.
    /// </summary>
    public TimeSpan DatabaseRetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}
