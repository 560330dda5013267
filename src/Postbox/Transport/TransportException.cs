namespace Postbox.Transport;

/// <summary>A publish failed. Carries whether retrying can help.</summary>
public class TransportException : Exception
{
    /// <summary>Creates an exception for a transient failure.</summary>
    public TransportException() : this("The transport failed to publish the message.") { }

    /// <summary>Creates an exception for a transient failure.</summary>
    /// <param name="message">What went wrong.</param>
    public TransportException(string message) : this(message, null, isTransient: true) { }

    /// <summary>Creates an exception for a transient failure.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TransportException(string message, Exception? innerException) : this(message, innerException, isTransient: true) { }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    /// <param name="isTransient">
    /// <see langword="false"/> when retrying cannot succeed (e.g. the message exceeds the broker's size limit):
    /// the relay then marks the message dead at once.
    /// </param>
    public TransportException(string message, Exception? innerException, bool isTransient) : base(message, innerException)
    {
        IsTransient = isTransient;
    }

    /// <summary>Whether a later attempt may succeed.</summary>
    public bool IsTransient { get; }
}
