using System.Net.Mail;
using System.Text.RegularExpressions;

namespace Postbox.Service.Hosting;

/// <summary>The service's settings for one process, read from configuration and checked together (every error listed).</summary>
internal sealed partial record ServiceConfiguration(
    ServiceRoles Roles, StorageSettings Storage, TransportSettings Transport, MailSettings Mail, WorkerSettings Worker, ApiSettings Api)
{
    public static ServiceConfiguration Read(IConfiguration configuration, ServiceRoles roles)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        try
        {
            return new ServiceConfiguration(roles,
                configuration.GetSection("Storage").Get<StorageSettings>() ?? new(),
                configuration.GetSection("Transport").Get<TransportSettings>() ?? new(),
                configuration.GetSection("Mail").Get<MailSettings>() ?? new(),
                configuration.GetSection("Worker").Get<WorkerSettings>() ?? new(),
                configuration.GetSection("Api").Get<ApiSettings>() ?? new());
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the key and the value it could not convert.
            throw new ServiceConfigurationException([ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}"]);
        }
    }

    /// <summary>Every problem with these settings for <see cref="Roles"/>; empty when they can run.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Storage.Provider == StorageProvider.PostgreSql)
        {
            if (string.IsNullOrWhiteSpace(Storage.PostgreSql))
            {
                errors.Add("Storage:PostgreSql (--postgres) is required when Storage:Provider is PostgreSql.");
            }

            if (!SchemaName().IsMatch(Storage.Schema ?? string.Empty))
            {
                errors.Add($"Storage:Schema must be lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters (was '{Storage.Schema}').");
            }
        }
        else if (Storage.Provider == StorageProvider.MySql)
        {
            if (string.IsNullOrWhiteSpace(Storage.MySql))
            {
                errors.Add("Storage:MySql (--mysql) is required when Storage:Provider is MySql: a MySqlConnector connection string with Database=....");
            }
        }
        else if (string.IsNullOrWhiteSpace(Storage.Sqlite))
        {
            errors.Add("Storage:Sqlite (--sqlite) must be a SQLite connection string such as 'Data Source=data/postbox.db'.");
        }

        var usesTransport = (Roles & (ServiceRoles.Api | ServiceRoles.Relay | ServiceRoles.Worker)) != 0;
        var allInOne = (Roles & ServiceRoles.All & ~ServiceRoles.Dashboard) == (ServiceRoles.Api | ServiceRoles.Relay | ServiceRoles.Worker);
        if (Transport.Provider == TransportProvider.InMemory && usesTransport && !allInOne)
        {
            errors.Add("Transport:Provider InMemory passes messages inside one process: it works only with 'all'. Run the roles in separate processes with --transport rabbitmq.");
        }

        if (Transport.Provider == TransportProvider.RabbitMQ
            && (!Uri.TryCreate(Transport.RabbitMQ, UriKind.Absolute, out var amqp) || amqp.Scheme is not ("amqp" or "amqps")))
        {
            errors.Add("Transport:RabbitMQ (--rabbitmq) must be an amqp:// or amqps:// URI.");
        }

        if (Transport.Provider == TransportProvider.Kafka && string.IsNullOrWhiteSpace(Transport.Kafka))
        {
            errors.Add("Transport:Kafka (--kafka) must list the Kafka bootstrap servers as host:port,...");
        }

        if ((Roles & ServiceRoles.Worker) != 0)
        {
            ValidateWorker(errors);
        }

        if (Api.MaxRequestBytes is < 1024 or > 100 * 1024 * 1024)
        {
            errors.Add($"Api:MaxRequestBytes must be between 1024 and {100 * 1024 * 1024} (was {Api.MaxRequestBytes}).");
        }

        if (Api.DatabaseRetryAfter < TimeSpan.FromSeconds(1) || Api.DatabaseRetryAfter > TimeSpan.FromHours(1))
        {
            errors.Add($"Api:DatabaseRetryAfter must be between 1 second and 1 hour (was {Api.DatabaseRetryAfter}).");
        }

        return errors;
    }

    private void ValidateWorker(List<string> errors)
    {
        if (Mail.Delivery == MailDelivery.Smtp)
        {
            if (string.IsNullOrWhiteSpace(Mail.Smtp.Host))
            {
                errors.Add("Mail:Smtp:Host (--smtp-host) is required when Mail:Delivery is Smtp.");
            }

            if (Mail.Smtp.Port is < 1 or > 65535)
            {
                errors.Add($"Mail:Smtp:Port must be between 1 and 65535 (was {Mail.Smtp.Port}).");
            }

            if (Mail.Smtp.Timeout <= TimeSpan.Zero || Mail.Smtp.Timeout > TimeSpan.FromMinutes(10))
            {
                errors.Add($"Mail:Smtp:Timeout must be between 0 and 10 minutes (was {Mail.Smtp.Timeout}).");
            }

            ValidateSmtpCredentials(errors);
        }
        else if (string.IsNullOrWhiteSpace(Mail.PickupDirectory))
        {
            errors.Add("Mail:PickupDirectory (--mail-dir) is required when Mail:Delivery is Pickup.");
        }

        if (string.IsNullOrWhiteSpace(Mail.MessageIdDomain) || Mail.MessageIdDomain.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or '@'))
        {
            errors.Add("Mail:MessageIdDomain must be a domain name such as postbox.local.");
        }

        if (!MailAddress.TryCreate(Mail.WelcomeFrom, out _))
        {
            errors.Add("Mail:WelcomeFrom must be an e-mail address.");
        }

        if (Worker.MaxAttempts is < 1 or > 1000)
        {
            errors.Add($"Worker:MaxAttempts (--max-attempts) must be between 1 and 1000 (was {Worker.MaxAttempts}).");
        }

        if (Worker.Concurrency is < 1 or > 1000)
        {
            errors.Add($"Worker:Concurrency must be between 1 and 1000 (was {Worker.Concurrency}).");
        }

        if (Worker.Timeout < TimeSpan.FromMilliseconds(10) || Worker.Timeout > TimeSpan.FromDays(1))
        {
            errors.Add($"Worker:Timeout must be between 10 ms and 1 day (was {Worker.Timeout}).");
        }

        if (Worker.SentRecordTimeout < TimeSpan.Zero || Worker.SentRecordTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"Worker:SentRecordTimeout (--sent-record-timeout) must be between 0 and 1 hour (was {Worker.SentRecordTimeout}).");
        }

        if (Worker.RetryDelay is { } delay && (delay < TimeSpan.FromMilliseconds(1) || delay > TimeSpan.FromDays(30)))
        {
            errors.Add($"Worker:RetryDelay (--retry-delay) must be between 1 ms and 30 days (was {delay}).");
        }
    }

    private void ValidateSmtpCredentials(List<string> errors)
    {
        var smtp = Mail.Smtp;
        if (string.IsNullOrEmpty(smtp.UserName))
        {
            if (!string.IsNullOrEmpty(smtp.Password))
            {
                errors.Add("Mail:Smtp:Password is set but Mail:Smtp:UserName (--smtp-user) is not: set both or neither.");
            }

            return;
        }

        // The values themselves are never echoed: they are credentials.
        if (string.IsNullOrEmpty(smtp.Password))
        {
            errors.Add("Mail:Smtp:UserName (--smtp-user) is set but Mail:Smtp:Password is not: set it through the environment variable Mail__Smtp__Password.");
        }

        if (smtp.UserName.Any(char.IsControl) || (smtp.Password ?? string.Empty).Any(char.IsControl))
        {
            errors.Add("Mail:Smtp:UserName and Mail:Smtp:Password must not contain control characters.");
        }

        if (!smtp.IsAlwaysEncrypted && !smtp.AllowInsecureAuth)
        {
            errors.Add($"Mail:Smtp credentials would be sent over a connection that may be unencrypted (Mail:Smtp:Security {smtp.EffectiveSecurity}, port {smtp.Port}): "
                + "use --smtp-security starttls or tls, or allow it explicitly with --smtp-allow-insecure-auth (Mail:Smtp:AllowInsecureAuth), e.g. for a server on the loopback interface.");
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}
