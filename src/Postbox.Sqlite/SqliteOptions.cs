namespace Postbox.Sqlite;

/// <summary>Options of the SQLite store.</summary>
public sealed class SqliteOptions
{
    /// <summary>Microsoft.Data.Sqlite connection string, e.g. <c>Data Source=postbox.db</c>. Required. Its
    /// <c>Default Timeout</c> (seconds, default 30) bounds how long a statement waits for another connection's write lock
    /// (SQLite's <c>busy_timeout</c> is set to it); past it the statement fails with SQLITE_BUSY, which the relay and the
    /// consumers log as an expected failure (one line) and retry.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Prefix of Postbox's table names (SQLite has no schemas). Default <c>postbox_</c>;
    /// lower-case letters, digits and underscores, at most 40 characters.</summary>
    public string TablePrefix { get; set; } = "postbox_";
}
