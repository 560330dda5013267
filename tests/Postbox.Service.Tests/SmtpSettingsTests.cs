using MailKit.Security;
using Postbox.Service.Hosting;

namespace Postbox.Service.Tests;

/// <summary>Start-up refuses SMTP credentials over a connection that may stay unencrypted, unless explicitly allowed (pure logic).</summary>
public sealed class SmtpSettingsTests
{
    private const string Password = "the-password-itself";

    [Theory]
    [InlineData(null, false, 25)]
    [InlineData(SecureSocketOptions.None, false, 25)]
    [InlineData(SecureSocketOptions.StartTlsWhenAvailable, false, 587)]
    [InlineData(SecureSocketOptions.Auto, false, 587)]
    public void Worker_CredentialsOverMaybeUnencryptedConnection_RefusedAtStart(SecureSocketOptions? security, bool enableSsl, int port)
    {
        var errors = Validate(security, enableSsl, port, allowInsecure: false);

        var error = Assert.Single(errors);
        Assert.Contains("--smtp-allow-insecure-auth", error, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SecureSocketOptions.StartTls, false, 587, false)]
    [InlineData(SecureSocketOptions.SslOnConnect, false, 465, false)]
    [InlineData(SecureSocketOptions.Auto, false, 465, false)]
    [InlineData(null, true, 587, false)] // --smtp-tls: required STARTTLS
    [InlineData(SecureSocketOptions.None, false, 25, true)] // explicitly allowed
    public void Worker_CredentialsOverEncryptedOrExplicitlyAllowed_Accepted(SecureSocketOptions? security, bool enableSsl, int port, bool allowInsecure) =>
        Assert.Empty(Validate(security, enableSsl, port, allowInsecure));

    [Fact]
    public void Worker_UserWithoutPassword_Refused()
    {
        var settings = Configuration(new SmtpSettings { Host = "127.0.0.1", UserName = "u", Security = SecureSocketOptions.StartTls });
        Assert.Contains(settings.Validate(), e => e.Contains("Mail__Smtp__Password", StringComparison.Ordinal));
    }

    [Fact]
    public void Worker_NoCredentialsOverPlainSmtp_Accepted() =>
        Assert.Empty(Configuration(new SmtpSettings { Host = "127.0.0.1" }).Validate());

    private static IReadOnlyList<string> Validate(SecureSocketOptions? security, bool enableSsl, int port, bool allowInsecure) =>
        Configuration(new SmtpSettings
        {
            Host = "127.0.0.1", Port = port, Security = security, EnableSsl = enableSsl, UserName = "user", Password = Password, AllowInsecureAuth = allowInsecure,
        }).Validate();

    private static ServiceConfiguration Configuration(SmtpSettings smtp) =>
        new(ServiceRoles.Worker, new StorageSettings(), new TransportSettings { Provider = TransportProvider.RabbitMQ, RabbitMQ = "amqp://guest:guest@127.0.0.1:5672/" }, new MailSettings { Delivery = MailDelivery.Smtp, Smtp = smtp }, new WorkerSettings(),
            new ApiSettings());
}
