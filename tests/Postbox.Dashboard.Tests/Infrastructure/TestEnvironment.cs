namespace Postbox.Dashboard.Tests.Infrastructure;

public static class TestEnvironment
{
    public static string PostgresConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") is { Length: > 0 } value
            ? value
            : "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    /// <summary>A MariaDB/MySQL server connection string without a database (each test creates its own).</summary>
    public static string MySqlServerConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_MYSQL") is { Length: > 0 } value
            ? value
            : "Server=127.0.0.1;Port=3306;User ID=postbox;Password=postbox;GuidFormat=Binary16";

    /// <summary>The repository root (the folder holding Postbox.slnx).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Postbox.slnx")))
            {
                directory = directory.Parent;
            }

            return directory?.FullName ?? throw new InvalidOperationException("Postbox.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// Where the browser tests write their screenshots. By default a <c>screenshots</c> folder beside the test assembly
    /// (under the build output, ignored by git), so a test run never changes the work tree. With
    /// <c>POSTBOX_DASHBOARD_SCREENSHOTS=docs</c> they refresh the documentation's images in <c>docs/images</c>; any other
    /// value is taken as a folder.
    /// </summary>
    public static string ScreenshotFolder => Environment.GetEnvironmentVariable("POSTBOX_DASHBOARD_SCREENSHOTS") switch
    {
        null or "" => Path.Combine(AppContext.BaseDirectory, "screenshots"),
        "docs" => Path.Combine(RepositoryRoot, "docs", "images"),
        var folder => Path.GetFullPath(folder),
    };

    public static string ScreenshotPath(string name)
    {
        var folder = ScreenshotFolder;
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }
}
