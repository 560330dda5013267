namespace Postbox.EntityFrameworkCore.Tests.Infrastructure;

public static class TestEnvironment
{
    public static string PostgresConnectionString { get; } =
        Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for: {what}");
            }

            await Task.Delay(50);
        }
    }
}
