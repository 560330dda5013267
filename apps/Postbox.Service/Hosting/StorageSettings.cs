namespace Postbox.Service.Hosting;

/// <summary>Where the business tables and the outbox live (configuration section <c>Storage</c>).</summary>
internal sealed class StorageSettings
{
    /// <summary><c>Sqlite</c> (default: a file, nothing to install), <c>PostgreSql</c> or <c>MySql</c> (MySQL 8.0+ / MariaDB 10.6+).</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>Microsoft.Data.Sqlite connection string. Default <c>Data Source=data/postbox.db</c> (relative to the current directory).</summary>
    public string Sqlite { get; set; } = "Data Source=data/postbox.db";

    /// <summary>Npgsql connection string, required when <see cref="Provider"/> is <c>PostgreSql</c>.</summary>
    public string? PostgreSql { get; set; }

    /// <summary>MySqlConnector connection string naming the database, required when <see cref="Provider"/> is <c>MySql</c>.
    /// Postbox's tables get the <c>postbox_</c> prefix there; <see cref="Schema"/> does not apply.</summary>
    public string? MySql { get; set; }

    /// <summary>PostgreSQL schema holding Postbox's tables and the service's tables. Default <c>postbox</c>.</summary>
    public string Schema { get; set; } = "postbox";

    /// <summary>Apply migrations when a role starts. Default <see langword="true"/>; <c>migrate</c> applies them explicitly.</summary>
    public bool MigrateOnStart { get; set; } = true;
}

/// <summary>The database kinds the service runs on.</summary>
internal enum StorageProvider
{
    Sqlite,
    PostgreSql,
    MySql,
}
