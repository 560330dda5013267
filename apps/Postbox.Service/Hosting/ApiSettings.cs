namespace Postbox.Service.Hosting;

/// <summary>HTTP API limits (configuration section <c>Api</c>).</summary>
internal sealed class ApiSettings
{
    /// <summary>Largest request body accepted; larger ones get <c>413</c>. Default 1 MiB.</summary>
    public long MaxRequestBytes { get; set; } = 1024 * 1024;
}
