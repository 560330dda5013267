namespace Postbox.Service.Hosting;

/// <summary>What one process runs. <c>all</c> is every role in one process.</summary>
[Flags]
internal enum ServiceRoles
{
    None = 0,

    /// <summary>The HTTP API: validates requests, writes business rows and outbox messages in one transaction.</summary>
    Api = 1,

    /// <summary>The outbox relay: publishes committed messages to the transport.</summary>
    Relay = 2,

    /// <summary>The consumers: send mail over SMTP, handle customer events.</summary>
    Worker = 4,

    /// <summary>The dashboard (Postbox.Dashboard at /dashboard, behind the credentials of the Dashboard section).</summary>
    Dashboard = 8,

    All = Api | Relay | Worker | Dashboard,
}
