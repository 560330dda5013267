using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Postbox.Bench;

/// <summary>What every scenario shares: options, the report, the servers, and the run's private names.</summary>
internal sealed class BenchContext : IAsyncDisposable
{
    private readonly List<BenchSchema> _schemas = [];

    private BenchContext(BenchOptions options, NpgsqlDataSource dataSource, BenchBroker broker)
    {
        (Options, DataSource, Broker) = (options, dataSource, broker);
    }

    public BenchOptions Options { get; }

    public Report Report { get; } = new();

    public NpgsqlDataSource DataSource { get; }

    public BenchBroker Broker { get; }

    /// <summary>Prefix of every schema, database, exchange and queue of this run.</summary>
    public string RunId { get; } = "bench_" + Guid.NewGuid().ToString("N")[..8];

    public static async Task<BenchContext> CreateAsync(BenchOptions options)
    {
        // Both servers are tried here, before any scenario, so a wrong address or password is one line naming the
        // server, not a stack trace from the middle of the first scenario.
        NpgsqlDataSource? dataSource = null;
        try
        {
            dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(options.Postgres) { MaxPoolSize = 100 }.ConnectionString);
            await using (await dataSource.OpenConnectionAsync())
            {
            }
        }
        catch (Exception ex) when (ServerUnavailableException.IsExpected(ex) || ex is ArgumentException)
        {
            // ArgumentException: a malformed connection string.
            if (dataSource is not null)
            {
                await dataSource.DisposeAsync();
            }

            throw new ServerUnavailableException("PostgreSQL (--postgres)", ex);
        }

        try
        {
            var broker = await BenchBroker.ConnectAsync(options.RabbitMQ);
            return new BenchContext(options, dataSource, broker);
        }
        catch (Exception ex) when (ServerUnavailableException.IsExpected(ex) || ex is UriFormatException or ArgumentException)
        {
            await dataSource.DisposeAsync();
            throw new ServerUnavailableException("RabbitMQ (--rabbitmq)", ex);
        }
    }

    public async Task<BenchSchema> NewSchemaAsync(string suffix)
    {
        var schema = await BenchSchema.CreateAsync(DataSource, $"{RunId}_{suffix}");
        _schemas.Add(schema);
        return schema;
    }

    /// <summary>An <see cref="IOutbox"/> as a producing application gets it (relay off in this process).</summary>
    public static ProducerOutbox CreateOutbox(NpgsqlDataSource dataSource, string schema, bool notify)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPostbox(o => o.Relay.Enabled = false)
            .UsePostgreSql(dataSource, o =>
            {
                o.Schema = schema;
                o.NotifyOnEnqueue = notify;
                o.ListenForNotifications = false;
            });
        var provider = services.BuildServiceProvider();
        return new ProducerOutbox(provider, provider.GetRequiredService<IOutbox>(), provider.GetRequiredService<Postbox.PostgreSql.PostgreSqlOutbox>());
    }

    /// <summary>Arguments of a <c>relay</c> child process against <paramref name="schema"/>.</summary>
    public List<string> RelayArgs(string connectionString, string schema, string transport, bool listen, int pollMs, string exchange = "-", string queuePrefix = "-") =>
    [
        "relay", "--pg", connectionString, "--schema", schema, "--transport", transport, "--listen", listen.ToString(),
        "--poll-ms", pollMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--batch-size", Options.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--in-flight", Options.InFlightBatches.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--rabbitmq", Options.RabbitMQ, "--exchange", exchange, "--queue-prefix", queuePrefix,
    ];

    public async ValueTask DisposeAsync()
    {
        foreach (var schema in _schemas)
        {
            await schema.DisposeAsync();
        }

        await Broker.DisposeAsync();
        await DataSource.DisposeAsync();
    }
}

/// <summary>The producer's outbox and the service provider that owns it.</summary>
internal sealed class ProducerOutbox(ServiceProvider provider, IOutbox outbox, Postbox.PostgreSql.PostgreSqlOutbox batched) : IAsyncDisposable
{
    public IOutbox Outbox => outbox;

    /// <summary>The enqueue path that rides in the caller's own batch.</summary>
    public Postbox.PostgreSql.PostgreSqlOutbox Batched => batched;

    public ValueTask DisposeAsync() => provider.DisposeAsync();
}
