namespace Postbox.Consumers.Tests.Infrastructure;

/// <summary>Base of tests that need a private PostgreSQL schema (with the inbox) and a broker helper.</summary>
public abstract class ServerTest : IAsyncLifetime
{
    protected TestDatabase Db { get; } = new();

    protected TestBroker Broker { get; } = new();

    public Task InitializeAsync() => Db.InitializeAsync();

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        await Db.DisposeAsync();
    }
}
