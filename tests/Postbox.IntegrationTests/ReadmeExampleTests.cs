using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Postbox.IntegrationTests.Infrastructure;

namespace Postbox.IntegrationTests;

public sealed class ReadmeExampleTests : ServerTest
{
    [Fact]
    public async Task ReadmeExample_CommitsTheRowAndTheMessage_AndTheRelayPublishesIt()
    {
        // The example's unqualified table names resolve in the test's private schema.
        var postgres = new NpgsqlConnectionStringBuilder(TestEnvironment.PostgresConnectionString) { SearchPath = Schema.Name }.ConnectionString;
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        ReadmeExample.Register(builder.Services, postgres, TestEnvironment.RabbitMQUri);
        builder.Services.Configure<Postbox.PostgreSql.PostgreSqlOptions>(o => o.Schema = Schema.Name);
        builder.Services.Configure<Postbox.RabbitMQ.RabbitMQTransportOptions>(o => { o.ExchangeName = Broker.Exchange; o.QueuePrefix = Broker.QueuePrefix; });
        using var host = builder.Build();
        await Schema.ExecuteAsync("CREATE TABLE {schema}.customers (id uuid PRIMARY KEY, email text NOT NULL)");
        await Broker.ConsumeAsync("customers");
        await host.StartAsync();

        await using (var connection = new NpgsqlConnection(postgres))
        {
            await connection.OpenAsync();
            await ReadmeExample.CreateCustomerAsync(connection, host.Services.GetRequiredService<IOutbox>(), "ada@example.com");
        }

        await Broker.WaitForAsync(1, TimeSpan.FromSeconds(20));
        await host.StopAsync();
        var delivered = Assert.Single(Broker.Received);
        var customer = JsonSerializer.Deserialize<CustomerCreated>(delivered.Body, JsonSerializerOptions.Web)!;
        Assert.Equal("ada@example.com", customer.Email);
        Assert.Equal(customer.Id.ToString(), delivered.Key);
        Assert.Equal(1L, await Schema.ScalarAsync<long>("SELECT count(*) FROM {schema}.customers"));
    }

    [Fact]
    public async Task ReadmeConfigurationExample_BindsTheSection_AndStartsAndReportsHealthy()
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Postbox:MigrateOnStart"] = "true",
            ["Postbox:PostgreSql:ConnectionString"] = TestEnvironment.PostgresConnectionString,
            ["Postbox:PostgreSql:Schema"] = Schema.Name,
            ["Postbox:RabbitMQ:ConnectionString"] = TestEnvironment.RabbitMQUri,
            ["Postbox:RabbitMQ:ExchangeName"] = Broker.Exchange,
            ["Postbox:RabbitMQ:QueuePrefix"] = Broker.QueuePrefix,
        });
        ReadmeExample.RegisterFromConfiguration(builder);
        using var host = builder.Build();
        await host.StartAsync();
        var health = host.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>();
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport? report = null;
        await Eventually.HoldsAsync(async () => (report = await health.CheckHealthAsync()).Status == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy,
            TimeSpan.FromSeconds(30), "every Postbox check is healthy");
        await host.StopAsync();
        Assert.Equal(4, report!.Entries.Count);
    }

    [Fact]
    public void Readme_ShowsTheExampleExactlyAsCompiled()
    {
        // Found from this source file, so it works wherever the build output goes.
        var root = RepositoryRoot();

        var readme = Normalize(File.ReadAllText(Path.Combine(root, "README.md")));
        var source = File.ReadAllText(Path.Combine(root, "tests", "Postbox.IntegrationTests", "ReadmeExample.cs"));
        foreach (var part in new[] { "register", "enqueue", "configure" })
        {
            var begin = source.IndexOf($"// README:{part}:begin", StringComparison.Ordinal);
            var end = source.IndexOf($"// README:{part}:end", StringComparison.Ordinal);
            var snippet = Normalize(source[(source.IndexOf('\n', begin) + 1)..end]);
            Assert.Contains(snippet, readme, StringComparison.Ordinal);
        }
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        var root = Path.GetDirectoryName(source);
        while (root is not null && !File.Exists(Path.Combine(root, "Postbox.slnx")))
        {
            root = Path.GetDirectoryName(root);
        }

        return root ?? throw new InvalidOperationException($"Repository root not found above {source}.");
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
