namespace Postbox.MySql;

/// <summary>Options of the MySQL/MariaDB store.</summary>
public sealed class MySqlOptions
{
    /// <summary>
    /// MySqlConnector connection string, naming the database that holds Postbox's tables, e.g.
    /// <c>Server=127.0.0.1;User ID=app;Password=…;Database=shop</c>. Required. Postbox reads and writes message ids as
    /// <c>BINARY(16)</c> bytes itself, so it works whatever <c>GuidFormat</c> the application uses.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Prefix of Postbox's table names (tables live in the connection's database). Default <c>postbox_</c>;
    /// lower-case letters, digits and underscores, starting with a letter or underscore, at most 40 characters.</summary>
    public string TablePrefix { get; set; } = "postbox_";
}
