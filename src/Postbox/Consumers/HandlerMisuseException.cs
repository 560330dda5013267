namespace Postbox.Consumers;

/// <summary>
/// A handler used the runtime against its contract (e.g. committed or rolled back the inbox transaction itself). The
/// attempt is recorded as failed and not retried: a retry would repeat the mistake.
/// </summary>
public sealed class HandlerMisuseException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public HandlerMisuseException()
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    /// <param name="message">What the handler did and what to do instead.</param>
    public HandlerMisuseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the error that revealed the misuse.</summary>
    /// <param name="message">What the handler did and what to do instead.</param>
    /// <param name="innerException">The error that revealed it, if any.</param>
    public HandlerMisuseException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
