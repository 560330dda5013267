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

    /// <summary>Use STARTTLS (System.Net.Mail has no implicit TLS on port 465). Default <see langword="false"/>.</summary>
    public bool EnableSsl { get; set; }

    /// <summary>User name; no authentication when empty.</summary>
    public string? UserName { get; set; }

    /// <summary>Password; set it through an environment variable (<c>Mail__Smtp__Password</c>), not on the command line.</summary>
    public string? Password { get; set; }

    /// <summary>Longest time one send may take. Default 30 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>The ways mail leaves the worker.</summary>
internal enum MailDelivery
{
    Pickup,
    Smtp,
}
