namespace Postbox.Service.Hosting;

/// <summary>The configuration cannot run; <see cref="Errors"/> lists every problem.</summary>
internal sealed class ServiceConfigurationException : Exception
{
    public ServiceConfigurationException()
        : this([])
    {
    }

    public ServiceConfigurationException(string message)
        : this([message])
    {
    }

    public ServiceConfigurationException(string message, Exception innerException)
        : base(message, innerException) => Errors = [message];

    public ServiceConfigurationException(IReadOnlyList<string> errors)
        : base("The configuration is invalid:" + string.Concat(errors.Select(e => Environment.NewLine + "  - " + e))) => Errors = errors;

    public IReadOnlyList<string> Errors { get; } = [];
}
