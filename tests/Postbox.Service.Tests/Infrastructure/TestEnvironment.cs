using System.Net;
using System.Net.Sockets;

namespace Postbox.Service.Tests.Infrastructure;

public static class TestEnvironment
{
    public static string PostgresConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") is { Length: > 0 } value
            ? value
            : "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    /// <summary>A MariaDB/MySQL server without a database (each test creates its own).</summary>
    public static string MySqlServerConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_MYSQL") is { Length: > 0 } value
            ? value
            : "Server=127.0.0.1;Port=3306;User ID=postbox;Password=postbox;GuidFormat=Binary16";

    public static string RabbitMQUri =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_RABBITMQ") is { Length: > 0 } value ? value : "amqp://guest:guest@127.0.0.1:5672/";

    /// <summary>Polls <paramref name="condition"/> until it holds; the timeout only bounds a broken run, it is not what is tested.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(100);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string TempFolder(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"postbox-service-tests-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }
}
