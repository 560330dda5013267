namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>Where the servers started by scripts/test.sh listen.</summary>
public static class TestEnvironment
{
    public static string PostgresConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    /// <summary>A MariaDB/MySQL server connection string without a database (each test creates its own).</summary>
    public static string MySqlServerConnectionString =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_MYSQL")
        ?? "Server=127.0.0.1;Port=3306;User ID=postbox;Password=postbox;GuidFormat=Binary16";

    public static string RabbitMQUri =>
        Environment.GetEnvironmentVariable("POSTBOX_TEST_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:5672/";
}
