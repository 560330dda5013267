namespace Postbox.Service.Hosting;

/// <summary>Topics and consumer names of the service. Consumer names are inbox keys: never rename them.</summary>
internal static class Topics
{
    public const string MailSend = "mail.send";
    public const string UserWelcome = "users.welcome";
    public const string CustomerCreated = "customers.created";

    public const string MailSender = "mail-sender";
    public const string WelcomeSender = "welcome-sender";
    public const string CustomerLogger = "customer-created-logger";
}
