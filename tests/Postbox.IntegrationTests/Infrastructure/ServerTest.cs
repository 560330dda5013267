namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>Base of tests that need a private PostgreSQL schema and a private RabbitMQ exchange.</summary>
public abstract class ServerTest : IAsyncLifetime
{
    protected PostgresSchema Schema { get; } = new();

    protected RabbitBroker Broker { get; } = new();

    public async Task InitializeAsync()
    {
        await Schema.InitializeAsync();
        await Broker.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        await Schema.DisposeAsync();
    }
}
