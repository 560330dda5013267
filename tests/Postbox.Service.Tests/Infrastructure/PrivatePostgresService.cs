using System.Globalization;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>
/// One service process (<paramref name="role"/>) on a private PostgreSQL cluster that the test may stop and start,
/// migrated into a schema of its own; the cluster is stopped when the test is done.
/// </summary>
public abstract class PrivatePostgresService(string role, string schemaPrefix, params string[] arguments) : IAsyncLifetime
{
    private readonly string _schema = schemaPrefix + Guid.NewGuid().ToString("N")[..10];
    private readonly int _port = TestEnvironment.FreePort();

    protected PrivatePostgres Postgres { get; } = new();

    protected ServiceProcess Process { get; private set; } = null!;

    protected HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Postgres.EnsureRunningAsync();
        var postgres = Postgres.ConnectionString;
        await using (var migrate = ServiceProcess.Start("migrate", ["--postgres", postgres, "--schema", _schema, "--transport", "rabbitmq"]))
        {
            var code = await migrate.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 0, $"migrate failed ({code}):\n{migrate.Output}");
        }

        Process = ServiceProcess.Start(role,
        [
            "--postgres", postgres, "--schema", _schema, "--rabbitmq", TestEnvironment.RabbitMQUri, "--no-migrate",
            "--urls", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{_port}"), .. arguments,
        ]);
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        await Process.WaitForLineAsync($"Postbox service ({role}", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Process.DisposeAsync();
        // Stopped when done, as the machine's rules ask; the next test starts it again.
        await Postgres.StopAsync();
    }
}
