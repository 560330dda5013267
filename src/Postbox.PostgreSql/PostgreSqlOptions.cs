namespace Postbox.PostgreSql;

/// <summary>Options of the PostgreSQL store.</summary>
public sealed class PostgreSqlOptions
{
    /// <summary>Npgsql connection string; ignored when a data source is passed to <c>UsePostgreSql</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The schema holding Postbox's tables, created by the migrations. Default <c>postbox</c>;
    /// lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters.</summary>
    public string Schema { get; set; } = "postbox";

    /// <summary>
    /// Issue <c>pg_notify</c> in enqueuing transactions so relays in other processes wake at once (coalesced: of the
    /// transactions a process enqueues within 5 ms, the first carries it). Costs one statement in the same round trip and
    /// a brief global lock at commit; turn it off when all relays run in the producing process or polling latency is
    /// enough. Off, relays in other processes find new messages only by polling; a relay that LISTENs then still backs
    /// off to <c>RelayOptions.IdlePollInterval</c> between claims, so lower that to the latency you accept (or turn
    /// <see cref="ListenForNotifications"/> off, which keeps the relay at <c>RelayOptions.PollInterval</c>).
    /// Default <see langword="true"/>.
    /// </summary>
    public bool NotifyOnEnqueue { get; set; } = true;

    /// <summary>Relays LISTEN for those notifications on one dedicated connection. Default <see langword="true"/>.</summary>
    public bool ListenForNotifications { get; set; } = true;
}
