namespace Postbox.Sqlite;

/// <summary>Options of the SQLite store.</summary>
public sealed class SqliteOptions
{
    /// <summary>Microsoft.Data.Sqlite connection string, e.g. <c>Data Source=postbox.db</c>. Required.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Prefix of Postbox's table names (SQLite has no schemas). Default <c>postbox_</c>;
    /// lower-case letters, digits and underscores, at most 40 characters.</summary>
    public string TablePrefix { get; set; } = "postbox_";
}
