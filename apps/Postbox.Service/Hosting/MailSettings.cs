namespace Postbox.Service.Hosting;

/// <summary>How the worker delivers mail (configuration section <c>Mail</c>).</summary>
internal sealed class MailSettings
{
    /// <summary><c>Pickup</c> (default: writes <c>.eml</c> files to <see cref="PickupDirectory"/>) or <c>Smtp</c>.</summary>
    public MailDelivery Delivery { get; set; } = MailDelivery.Pickup;

    /// <summary>Folder of the <c>.eml</c> files. Default <c>data/mail</c> (relative to the current directory).</summary>
    public string PickupDirectory { get; set; } = "data/mail";

    /// <summary>Domain part of the <c>Message-ID</c> derived from each delivery id. Default <c>postbox.local</c>.</summary>
    public string MessageIdDomain { get; set; } = "postbox.local";

    /// <summary>Sender of the welcome mail. Default <c>welcome@postbox.local</c>.</summary>
    public string WelcomeFrom { get; set; } = "welcome@postbox.local";

    /// <summary>
    /// What happens to a mail whose end of data was handed to the SMTP server when the attempt ended without the server's
    /// answer (the worker was killed, the connection dropped, the answer timed out): the server may have accepted it.
    /// <c>Hold</c> (default): marked <c>unconfirmed</c> and not sent again until an operator resends it (at most once).
    /// <c>Resend</c>: retried like any failure (at least once; the copy carries the same <c>Message-ID</c>).
    /// </summary>
    public UnconfirmedSends UnconfirmedSends { get; set; } = UnconfirmedSends.Hold;

    /// <summary>The SMTP server, used when <see cref="Delivery"/> is <c>Smtp</c>.</summary>
    public SmtpSettings Smtp { get; set; } = new();
}

/// <summary>
/// The SMTP server (section <c>Mail:Smtp</c>). The credentials stay in configuration: they are never written to a table,
/// a message or a log.
/// </summary>
internal sealed class SmtpSettings
{
    /// <summary>Host name. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Port. Default 25.</summary>
    public int Port { get; set; } = 25;

    /// <summary>
    /// Shorthand kept from the System.Net.Mail days: <see langword="true"/> means <see cref="Security"/> <c>StartTls</c> when
    /// <see cref="Security"/> is not set. Default <see langword="false"/>.
    /// </summary>
    public bool EnableSsl { get; set; }

    /// <summary>
    /// How the connection is secured, as MailKit's <see cref="MailKit.Security.SecureSocketOptions"/>: <c>None</c>,
    /// <c>StartTls</c> (required STARTTLS), <c>SslOnConnect</c> (implicit TLS, port 465), <c>StartTlsWhenAvailable</c>
    /// (opportunistic) or <c>Auto</c> (<c>SslOnConnect</c> on 465, else opportunistic). Default: <c>StartTls</c> when
    /// <see cref="EnableSsl"/> is set, else <c>None</c>.
    /// </summary>
    public MailKit.Security.SecureSocketOptions? Security { get; set; }

    /// <summary>User name; no authentication when empty. With a user name, <see cref="Password"/> is required.</summary>
    public string? UserName { get; set; }

    /// <summary>
    /// Allow sending the credentials over a connection that may be unencrypted (<see cref="Security"/> <c>None</c>,
    /// <c>StartTlsWhenAvailable</c> or <c>Auto</c> on a port other than 465). Refused at start-up otherwise. Meant for a
    /// server on the loopback interface. Default <see langword="false"/>.
    /// </summary>
    public bool AllowInsecureAuth { get; set; }

    /// <summary>Password; set it through an environment variable (<c>Mail__Smtp__Password</c>), not on the command line.</summary>
    public string? Password { get; set; }

    /// <summary>Longest time one send may take. Default 30 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The security actually used: <see cref="Security"/>, else what <see cref="EnableSsl"/> implies.</summary>
    public MailKit.Security.SecureSocketOptions EffectiveSecurity =>
        Security ?? (EnableSsl ? MailKit.Security.SecureSocketOptions.StartTls : MailKit.Security.SecureSocketOptions.None);

    /// <summary>Whether the credentials can only ever travel encrypted: TLS is required, not merely tried.</summary>
    public bool IsAlwaysEncrypted => EffectiveSecurity switch
    {
        MailKit.Security.SecureSocketOptions.StartTls or MailKit.Security.SecureSocketOptions.SslOnConnect => true,
        MailKit.Security.SecureSocketOptions.Auto => Port == 465,
        _ => false,
    };
}

/// <summary>The ways mail leaves the worker.</summary>
internal enum MailDelivery
{
    Pickup,
    Smtp,
}
