using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using RabbitMQ.Client;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>
/// The service as in production: <c>migrate</c>, then <c>api</c>, <c>relay</c> and <c>worker</c> as separate processes on
/// PostgreSQL (own schema) or MariaDB/MySQL (own database), RabbitMQ (own exchange and queues) and a real SMTP server
/// (aiosmtpd). Cleaned up afterwards.
/// </summary>
public sealed class DistributedService : IAsyncDisposable
{
    private static readonly string[] Topics = ["mail.send", "users.welcome", "customers.created"];
    private readonly List<ServiceProcess> _processes = [];
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..12];
    private readonly int _apiPort = TestEnvironment.FreePort();

    public DistributedService(int maxAttempts = 3, bool mySql = false, string? postgres = null, bool productionPolling = false)
    {
        MaxAttempts = maxAttempts;
        ProductionPolling = productionPolling;
        MySql = mySql;
        Postgres = postgres ?? TestEnvironment.PostgresConnectionString;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_apiPort}") };
    }

    public int MaxAttempts { get; }

    /// <summary>Added to every worker's command line (the first one's too), after the defaults, so they override them.</summary>
    public IReadOnlyList<string> WorkerArguments { get; init; } = [];

    /// <summary>Added to the relay's command line, after the defaults, so they override them.</summary>
    public IReadOnlyList<string> RelayArguments { get; init; } = [];

    /// <summary>Relay and workers poll at the service's own intervals (an idle-cost test), not the tests' fast ones.</summary>
    public bool ProductionPolling { get; }

    /// <summary>The PostgreSQL the service runs on: the shared one, or a private cluster a test may restart.</summary>
    public string Postgres { get; }

    /// <summary>On MariaDB/MySQL (database <see cref="Schema"/>) instead of PostgreSQL.</summary>
    public bool MySql { get; }

    private string MySqlConnectionString =>
        new MySqlConnector.MySqlConnectionStringBuilder(TestEnvironment.MySqlServerConnectionString) { Database = Schema }.ConnectionString;

    public string Schema => "svc_" + _suffix;

    public string Exchange => "postbox-test-" + _suffix;

    public string QueuePrefix => $"svc-{_suffix}.";

    public SmtpSink Smtp { get; } = new();

    /// <summary>Extra environment variables of each role's process (e.g. an OTLP exporter's), by role name.</summary>
    public Func<string, IReadOnlyDictionary<string, string>?>? RoleEnvironment { get; init; }

    public HttpClient Client { get; }

    public ServiceProcess Api { get; private set; } = null!;

    public ServiceProcess Relay { get; private set; } = null!;

    public ServiceProcess Worker { get; private set; } = null!;

    private string[] Common =>
    [
        .. MySql ? ["--mysql", MySqlConnectionString] : new[] { "--postgres", Postgres, "--schema", Schema },
        "--rabbitmq", TestEnvironment.RabbitMQUri, "--exchange", Exchange, $"--Transport:QueuePrefix={QueuePrefix}",
    ];

    public async Task StartAsync()
    {
        await Smtp.StartAsync();
        if (MySql)
        {
            await ExecuteMySqlAsync(TestEnvironment.MySqlServerConnectionString, $"CREATE DATABASE `{Schema}` CHARACTER SET utf8mb4");
        }

        await using (var migrate = ServiceProcess.Start("migrate", Common, RoleEnvironment?.Invoke("migrate")))
        {
            var code = await migrate.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 0, $"migrate failed ({code}):\n{migrate.Output}");
        }

        Api = Add(ServiceProcess.Start("api", [.. Common, "--no-migrate", "--urls", $"http://127.0.0.1:{_apiPort}"], RoleEnvironment?.Invoke("api")));
        Relay = Add(ServiceProcess.Start("relay", [.. Common, "--no-migrate", .. ProductionPolling ? Array.Empty<string>() : ["--Postbox:Relay:PollInterval=00:00:00.200"], .. RelayArguments], RoleEnvironment?.Invoke("relay")));
        Worker = Add(StartWorker());
        await Api.WaitForLineAsync("Postbox service (api", TimeSpan.FromSeconds(60));
        await Relay.WaitForLineAsync("Postbox service (relay", TimeSpan.FromSeconds(60));
        await Worker.WaitForLineAsync("subscribed to mail.send", TimeSpan.FromSeconds(60));
    }

    public ServiceProcess StartWorker(params string[] extra) => ServiceProcess.Start("worker",
    [
        .. Common, "--no-migrate", "--smtp-host", "127.0.0.1", "--smtp-port", Smtp.Port.ToString(CultureInfo.InvariantCulture),
        "--max-attempts", MaxAttempts.ToString(CultureInfo.InvariantCulture), "--retry-delay", "00:00:00.300",
        "--Mail:Smtp:Timeout=00:00:10", .. ProductionPolling ? Array.Empty<string>() : ["--Postbox:Consumers:RetryPollInterval=00:00:00.100"], "--Postbox:Consumers:HandleSignals=false",
        "--Logging:LogLevel:Postbox.Consumers=Debug", .. WorkerArguments, .. extra,
    ], RoleEnvironment?.Invoke("worker"));

    public async Task<Guid> SendMailAsync(string subject)
    {
        using var response = await Client.PostAsJsonAsync("/api/mail/send", new { from = "from@example.com", to = new[] { "to@example.com" }, subject, content = "some content" });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public Task WaitForMailStatusAsync(Guid id, string status) =>
        TestEnvironment.WaitUntilAsync(async () => (await GetJsonAsync($"/api/mail/{id}")).GetProperty("status").GetString() == status,
            TimeSpan.FromSeconds(60), $"mail {id} to be {status}. Worker:\n{Worker.Output}");

    /// <summary>Reads a stored outbox message, to publish it again exactly as the relay did.</summary>
    public async Task<(Guid Id, string Topic, string? Type, byte[] Payload)> OutboxMessageAsync(Guid id)
    {
        if (MySql)
        {
            await using var connection = new MySqlConnector.MySqlConnection(MySqlConnectionString);
            await connection.OpenAsync();
            await using var select = new MySqlConnector.MySqlCommand("SELECT id, topic, type, payload FROM postbox_outbox WHERE id = @id", connection);
            select.Parameters.AddWithValue("@id", id);
            await using var row = await select.ExecuteReaderAsync();
            Assert.True(await row.ReadAsync(), $"outbox message {id} not found");
            return (row.GetGuid(0), row.GetString(1), row.IsDBNull(2) ? null : row.GetString(2), (byte[])row.GetValue(3));
        }

        await using var dataSource = NpgsqlDataSource.Create(Postgres);
        await using var command = dataSource.CreateCommand($"SELECT id, topic, type, payload FROM \"{Schema}\".outbox WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"outbox message {id} not found");
        return (reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), (byte[])reader.GetValue(3));
    }

    /// <summary>Runs <paramref name="sql"/> written for PostgreSQL's layout: on MySQL <c>{schema}.outbox</c> and
    /// <c>{schema}.inbox</c> are Postbox's prefixed tables and the service's tables are unqualified.</summary>
    public async Task<T?> ScalarAsync<T>(string sql)
    {
        if (MySql)
        {
            var text = sql.Replace("{schema}.outbox", "postbox_outbox", StringComparison.Ordinal)
                .Replace("{schema}.inbox", "postbox_inbox", StringComparison.Ordinal).Replace("{schema}.", "", StringComparison.Ordinal);
            await using var connection = new MySqlConnector.MySqlConnection(MySqlConnectionString);
            await connection.OpenAsync();
            await using var scalar = new MySqlConnector.MySqlCommand(text, connection);
            return (T?)await scalar.ExecuteScalarAsync();
        }

        await using var dataSource = NpgsqlDataSource.Create(Postgres);
        await using var command = dataSource.CreateCommand(sql.Replace("{schema}", $"\"{Schema}\"", StringComparison.Ordinal));
        return (T?)await command.ExecuteScalarAsync();
    }

    /// <summary>Publishes a message to the service's exchange as the relay does (persistent, confirmed, id as AMQP message-id).</summary>
    public async Task PublishAsync(Guid messageId, string topic, string? type, byte[] payload)
    {
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMQUri), ClientProvidedName = "postbox-service-tests" };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var properties = new BasicProperties { MessageId = messageId.ToString("D"), Type = type, Persistent = true, ContentType = "application/json" };
        await channel.BasicPublishAsync(Exchange, topic, mandatory: true, properties, payload);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        Client.Dispose();
        await Smtp.DisposeAsync();
        if (MySql)
        {
            await ExecuteMySqlAsync(TestEnvironment.MySqlServerConnectionString, $"DROP DATABASE IF EXISTS `{Schema}`");
        }
        else
        {
            await DropSchemaAsync();
        }

        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMQUri), ClientProvidedName = "postbox-service-tests-cleanup" };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var topic in Topics)
        {
            await channel.QueueDeleteAsync(QueuePrefix + topic, ifUnused: false, ifEmpty: false);
        }

        await channel.ExchangeDeleteAsync(Exchange, ifUnused: false);
    }

    private static async Task ExecuteMySqlAsync(string connectionString, string sql)
    {
        await using var connection = new MySqlConnector.MySqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new MySqlConnector.MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task DropSchemaAsync()
    {
        await using (var dataSource = NpgsqlDataSource.Create(Postgres))
        await using (var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{Schema}\" CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }
    }

    private ServiceProcess Add(ServiceProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public ServiceProcess Track(ServiceProcess process) => Add(process);
}
