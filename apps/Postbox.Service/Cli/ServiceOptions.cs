using System.CommandLine;
using System.Globalization;

namespace Postbox.Service.Cli;

/// <summary>The named command-line options and the configuration keys they set.</summary>
internal sealed class ServiceOptions
{
    private readonly Option<string?> _urls = Make<string?>("--urls", "Where the API listens, e.g. http://localhost:3080 (Urls).");
    private readonly Option<string?> _database = Make<string?>("--database", "sqlite (default), postgresql or mysql (Storage:Provider).", "sqlite", "postgresql", "mysql");
    private readonly Option<string?> _sqlite = Make<string?>("--sqlite", "SQLite connection string (Storage:Sqlite). Default: Data Source=data/postbox.db.");
    private readonly Option<string?> _postgres = Make<string?>("--postgres", "PostgreSQL connection string; implies --database postgresql (Storage:PostgreSql). Prefer the environment variable Storage__PostgreSql for passwords.");
    private readonly Option<string?> _mysql = Make<string?>("--mysql", "MySQL/MariaDB connection string with Database=...; implies --database mysql (Storage:MySql). Prefer the environment variable Storage__MySql for passwords.");
    private readonly Option<string?> _schema = Make<string?>("--schema", "PostgreSQL schema of every table (Storage:Schema). Default: postbox.");
    private readonly Option<string?> _transport = Make<string?>("--transport", "inmemory (default, only with 'all'), rabbitmq or kafka (Transport:Provider).", "inmemory", "rabbitmq", "kafka");
    private readonly Option<string?> _rabbitmq = Make<string?>("--rabbitmq", "RabbitMQ URI; implies --transport rabbitmq (Transport:RabbitMQ).");
    private readonly Option<string?> _exchange = Make<string?>("--exchange", "RabbitMQ exchange (Transport:Exchange). Default: postbox.");
    private readonly Option<string?> _kafka = Make<string?>("--kafka", "Kafka bootstrap servers (host:port,...); implies --transport kafka (Transport:Kafka).");
    private readonly Option<string?> _smtpHost = Make<string?>("--smtp-host", "Send mail to this SMTP server instead of .eml files (Mail:Smtp:Host).");
    private readonly Option<int?> _smtpPort = Make<int?>("--smtp-port", "SMTP port (Mail:Smtp:Port). Default: 25.");
    private readonly Option<bool?> _smtpTls = Make<bool?>("--smtp-tls", "Use STARTTLS (Mail:Smtp:EnableSsl); same as --smtp-security starttls.");
    private readonly Option<string?> _smtpSecurity = Make<string?>("--smtp-security",
        "none, starttls (required), tls (implicit TLS, port 465), starttls-when-available or auto (Mail:Smtp:Security). Default: none, or starttls with --smtp-tls.",
        "none", "starttls", "tls", "starttls-when-available", "auto");
    private readonly Option<bool> _smtpAllowInsecureAuth = Make<bool>("--smtp-allow-insecure-auth",
        "Allow the SMTP credentials over a connection that may be unencrypted, e.g. a server on loopback (Mail:Smtp:AllowInsecureAuth).");
    private readonly Option<string?> _smtpUser = Make<string?>("--smtp-user", "SMTP user (Mail:Smtp:UserName). The password only through Mail__Smtp__Password or appsettings.json, never on the command line.");
    private readonly Option<string?> _mailDir = Make<string?>("--mail-dir", "Folder of the .eml files (Mail:PickupDirectory). Default: data/mail.");
    private readonly Option<int?> _maxAttempts = Make<int?>("--max-attempts", "Attempts before a mail is marked failed (Worker:MaxAttempts). Default: 25.");
    private readonly Option<TimeSpan?> _retryDelay = Make<TimeSpan?>("--retry-delay", "Fixed delay between retries, e.g. 00:00:05 (Worker:RetryDelay). Default: asynq's backoff.");
    private readonly Option<TimeSpan?> _sentRecordTimeout = Make<TimeSpan?>("--sent-record-timeout", "How long to keep saving the record of a mail the SMTP server accepted while the database is down, e.g. 00:01:00 (Worker:SentRecordTimeout). Default: 1 minute.");
    private readonly Option<string?> _unconfirmedSends = Make<string?>("--unconfirmed-sends",
        "hold (default: a mail the SMTP server may have accepted without answering is held, never sent twice) or resend (Mail:UnconfirmedSends).", "hold", "resend");
    private readonly Option<bool> _noMigrate = Make<bool>("--no-migrate", "Do not apply migrations at start (Storage:MigrateOnStart=false).");

    public IEnumerable<Option> All =>
    [
        _urls, _database, _sqlite, _postgres, _mysql, _schema, _transport, _rabbitmq, _exchange, _kafka, _smtpHost, _smtpPort, _smtpTls, _smtpSecurity, _smtpAllowInsecureAuth, _smtpUser, _mailDir,
        _maxAttempts, _retryDelay, _sentRecordTimeout, _unconfirmedSends, _noMigrate,
    ];

    public Dictionary<string, string?> ToConfiguration(ParseResult result)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        void Set(string key, string? value)
        {
            if (value is not null)
            {
                values[key] = value;
            }
        }

        Set("urls", result.GetValue(_urls));
        Set("Storage:Provider", result.GetValue(_postgres) is not null ? "PostgreSql" : null);
        Set("Storage:Provider", result.GetValue(_mysql) is not null ? "MySql" : null);
        Set("Storage:Provider", result.GetValue(_database));
        Set("Storage:MySql", result.GetValue(_mysql));
        Set("Storage:Sqlite", result.GetValue(_sqlite));
        Set("Storage:PostgreSql", result.GetValue(_postgres));
        Set("Storage:Schema", result.GetValue(_schema));
        Set("Transport:Provider", result.GetValue(_rabbitmq) is not null ? "RabbitMQ" : null);
        Set("Transport:Provider", result.GetValue(_kafka) is not null ? "Kafka" : null);
        Set("Transport:Provider", result.GetValue(_transport));
        Set("Transport:RabbitMQ", result.GetValue(_rabbitmq));
        Set("Transport:Exchange", result.GetValue(_exchange));
        Set("Transport:Kafka", result.GetValue(_kafka));
        Set("Mail:Delivery", result.GetValue(_mailDir) is not null ? "Pickup" : null);
        Set("Mail:PickupDirectory", result.GetValue(_mailDir));
        Set("Mail:Delivery", result.GetValue(_smtpHost) is not null ? "Smtp" : null);
        Set("Mail:Smtp:Host", result.GetValue(_smtpHost));
        Set("Mail:Smtp:Port", result.GetValue(_smtpPort)?.ToString(CultureInfo.InvariantCulture));
        Set("Mail:Smtp:EnableSsl", result.GetValue(_smtpTls)?.ToString());
        Set("Mail:Smtp:Security", result.GetValue(_smtpSecurity) switch
        {
            "none" => "None",
            "starttls" => "StartTls",
            "tls" => "SslOnConnect",
            "starttls-when-available" => "StartTlsWhenAvailable",
            "auto" => "Auto",
            _ => null,
        });
        Set("Mail:Smtp:AllowInsecureAuth", result.GetValue(_smtpAllowInsecureAuth) ? "true" : null);
        Set("Mail:Smtp:UserName", result.GetValue(_smtpUser));
        Set("Worker:MaxAttempts", result.GetValue(_maxAttempts)?.ToString(CultureInfo.InvariantCulture));
        Set("Worker:RetryDelay", result.GetValue(_retryDelay)?.ToString("c", CultureInfo.InvariantCulture));
        Set("Mail:UnconfirmedSends", result.GetValue(_unconfirmedSends));
        Set("Worker:SentRecordTimeout", result.GetValue(_sentRecordTimeout)?.ToString("c", CultureInfo.InvariantCulture));
        Set("Storage:MigrateOnStart", result.GetValue(_noMigrate) ? "false" : null);
        return values;
    }

    private static Option<T> Make<T>(string name, string description, params string[] allowed)
    {
        var option = new Option<T>(name) { Description = description, Recursive = true };
        if (allowed.Length > 0)
        {
            option.AcceptOnlyFromAmong(allowed);
        }

        return option;
    }
}
