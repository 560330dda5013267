namespace Postbox.Service.Hosting;

/// <summary>
/// The policy for a mail whose end of data reached the SMTP server without its answer reaching the worker (configuration
/// <c>Mail:UnconfirmedSends</c>, option <c>--unconfirmed-sends</c>).
/// </summary>
internal enum UnconfirmedSends
{
    /// <summary>At most once: held as <c>unconfirmed</c> until an operator resends it. The default.</summary>
    Hold,

    /// <summary>At least once: retried; if the server had accepted it, the recipient gets a second copy (same <c>Message-ID</c>).</summary>
    Resend,
}
