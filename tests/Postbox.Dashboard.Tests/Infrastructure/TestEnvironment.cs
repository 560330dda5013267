namespace Postbox.Dashboard.Tests.Infrastructure;

public static class TestEnvironment
{
    public static string PostgresConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") is { Length: > 0 } value
            ? value
            : "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    /// <summary>The repository root (the folder holding Postbox.slnx), where the screenshots go.</summary>
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

    public static string ScreenshotPath(string name)
    {
        var folder = Path.Combine(RepositoryRoot, "docs", "images");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }
}
