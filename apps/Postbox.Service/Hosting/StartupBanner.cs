using Microsoft.Data.Sqlite;

namespace Postbox.Service.Hosting;

/// <summary>What the operator sees at start: where things are, how to try it, how to stop it.</summary>
internal static class StartupBanner
{
    public static void Write(TextWriter output, ServiceConfiguration settings, ICollection<string> addresses, DashboardAccess? dashboard = null)
    {
        var roles = settings.Roles == ServiceRoles.All ? "all" : settings.Roles.ToString().ToLowerInvariant();
        var storage = settings.Storage.Provider switch
        {
            StorageProvider.Sqlite => $"SQLite {Path.GetFullPath(new SqliteConnectionStringBuilder(settings.Storage.Sqlite).DataSource)}",
            StorageProvider.MySql => $"MySQL (database {new MySqlConnector.MySqlConnectionStringBuilder(settings.Storage.MySql ?? string.Empty).Database})",
            _ => $"PostgreSQL (schema {settings.Storage.Schema})",
        };
        var transport = settings.Transport.Provider switch
        {
            TransportProvider.InMemory => "in-process transport",
            TransportProvider.Kafka => $"Kafka ({settings.Transport.Kafka})",
            _ => $"RabbitMQ (exchange {settings.Transport.Exchange})",
        };
        var mail = settings.Mail.Delivery == MailDelivery.Pickup
            ? $".eml files in {Path.GetFullPath(settings.Mail.PickupDirectory)}"
            : $"SMTP {settings.Mail.Smtp.Host}:{settings.Mail.Smtp.Port}";

        // A process that neither publishes nor consumes (the dashboard alone, the API alone) uses no transport: naming one would mislead.
        var usesTransport = (settings.Roles & (ServiceRoles.Relay | ServiceRoles.Worker)) != 0;
        var lines = new List<string> { $"Postbox service ({roles}, pid {Environment.ProcessId}) is running: {storage}{(usesTransport ? $", {transport}" : "")}" };
        if ((settings.Roles & ServiceRoles.Worker) != 0)
        {
            lines.Add($"  Mail goes to:   {mail}");
        }

        var url = addresses.FirstOrDefault()?.TrimEnd('/');
        if (url is not null && (settings.Roles & ServiceRoles.Api) != 0)
        {
            lines.Add($"  API:            {url}/api/mail/send   {url}/api/v1/users   {url}/customers");
            lines.Add($"  API page:       {url}/swagger   (OpenAPI document: {url}/openapi/v1.json)");
            lines.Add("  Send a mail:");
            lines.Add($"    curl -i {url}/api/mail/send -H 'Content-Type: application/json' -d '{{\"from\":\"from@example.com\",\"to\":[\"to@example.com\"],\"subject\":\"Test Subject\",\"content\":\"some content\"}}'");
            lines.Add($"  Read its status: curl {url}/api/mail/<id>");
        }

        if (url is not null && (settings.Roles & ServiceRoles.Dashboard) != 0)
        {
            lines.Add($"  Dashboard:      {url}/dashboard/");
            if (dashboard is not null)
            {
                // A generated password exists nowhere else: this line is the only way to learn it.
                lines.Add(dashboard.Generated
                    ? $"    user {dashboard.UserName}, password {dashboard.Password} (generated for this run; set Dashboard:Password to choose one)"
                    : $"    user {dashboard.UserName}, password from configuration (Dashboard:Password)");
            }

            if (settings.Mail.Delivery == MailDelivery.Pickup)
            {
                lines.Add($"  Mailbox:        {url}/dashboard/mailbox/ (the .eml files in {settings.Mail.PickupDirectory}; same credentials)");
            }
        }

        lines.Add("  Stop: Ctrl+C or kill -TERM <pid> (in-flight work finishes first)"
            + ((settings.Roles & ServiceRoles.Worker) != 0 ? "; kill -TSTP <pid> pauses the worker, kill -CONT resumes it." : "."));
        foreach (var line in lines)
        {
            output.WriteLine(line);
        }

        output.Flush();
    }
}
