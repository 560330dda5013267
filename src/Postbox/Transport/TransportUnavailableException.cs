namespace Postbox.Transport;

/// <summary>
/// The transport as a whole cannot publish right now — the connection is lost, the broker is blocked (a memory or
/// disk alarm), or it stopped answering — so the failure is not the message's fault. The relay then pauses, costs the
/// messages it holds no attempt, probes the transport and resumes when it is back. Throw
/// <see cref="TransportException"/> instead for a failure of one message (unroutable, refused, too large).
/// </summary>
public sealed class TransportUnavailableException : TransportException
{
    /// <summary>Creates the exception.</summary>
    public TransportUnavailableException() : this("The transport is unavailable.") { }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is unavailable and why.</param>
    public TransportUnavailableException(string message) : this(message, null) { }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is unavailable and why.</param>
    /// <param name="innerException">The cause.</param>
    public TransportUnavailableException(string message, Exception? innerException) : base(message, innerException, isTransient: true) { }

    /// <summary>
    /// Set when the failure came before the message was handed to the broker, e.g. while its queue was still being
    /// declared: the message cannot have caused it. The relay then never makes the message a suspect of breaking the
    /// connection (see docs/guarantees.md, "Broker outages"), nor charges it when it is published alone. Default
    /// <see langword="false"/>.
    /// </summary>
    public bool BeforePublish { get; init; }
}
