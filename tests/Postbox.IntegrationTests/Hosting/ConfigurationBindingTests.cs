using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.Consumers;
using Postbox.Health;
using Postbox.Hosting;
using Postbox.PostgreSql;
using Postbox.RabbitMQ;
using Postbox.RabbitMQ.Consumers;
using Postbox.Relay;
using Postbox.Sqlite;

namespace Postbox.IntegrationTests.Hosting;

/// <summary>
/// <c>AddPostbox(configuration.GetSection("Postbox"))</c>: every key documented in docs/operations.md takes effect, and
/// a wrong value fails the host's start naming the key. No server is contacted: the host is only built, or fails to start
/// before anything connects.
/// </summary>
public sealed partial class ConfigurationBindingTests
{
    private sealed record Key(string Path, string Value, Func<IServiceProvider, object?> Read, object? Expected);

    private static T Get<T>(IServiceProvider sp)
        where T : class => sp.GetRequiredService<IOptions<T>>().Value;

    private static RelayOptions Relay(IServiceProvider sp) => Get<PostboxOptions>(sp).Relay;

    // Every value differs from its default, so a key that is not bound fails its assertion.
    private static readonly Key[] Keys =
    [
        new("MaxPayloadBytes", "1024", sp => Get<PostboxOptions>(sp).MaxPayloadBytes, 1024),
        new("MigrateOnStart", "true", sp => Get<PostboxOptions>(sp).MigrateOnStart, true),
        new("Relay:Enabled", "false", sp => Relay(sp).Enabled, false),
        new("Relay:BatchSize", "77", sp => Relay(sp).BatchSize, 77),
        new("Relay:MaxInFlightBatches", "3", sp => Relay(sp).MaxInFlightBatches, 3),
        new("Relay:PollInterval", "00:00:02", sp => Relay(sp).PollInterval, TimeSpan.FromSeconds(2)),
        new("Relay:IdlePollInterval", "00:00:30", sp => Relay(sp).IdlePollInterval, TimeSpan.FromSeconds(30)),
        new("Relay:LeaseDuration", "00:02:00", sp => Relay(sp).LeaseDuration, TimeSpan.FromMinutes(2)),
        new("Relay:PublishTimeout", "00:00:45", sp => Relay(sp).PublishTimeout, TimeSpan.FromSeconds(45)),
        new("Relay:MaxAttempts", "9", sp => Relay(sp).MaxAttempts, 9),
        new("Relay:RetryPolicy", "Fixed(00:00:07)", sp => Relay(sp).RetryPolicy.GetDelay(3), TimeSpan.FromSeconds(7)),
        new("Relay:DeadKeyPolicy", "Skip", sp => Relay(sp).DeadKeyPolicy, DeadKeyPolicy.Skip),
        new("Relay:DeliveredRetention", "00:05:00", sp => Relay(sp).DeliveredRetention, TimeSpan.FromMinutes(5)),
        new("Relay:CleanupInterval", "00:03:00", sp => Relay(sp).CleanupInterval, TimeSpan.FromMinutes(3)),
        new("Relay:CleanupBatchSize", "250", sp => Relay(sp).CleanupBatchSize, 250),
        new("Relay:MonitorInterval", "00:00:11", sp => Relay(sp).MonitorInterval, TimeSpan.FromSeconds(11)),
        new("Relay:HeartbeatInterval", "00:00:17", sp => Relay(sp).HeartbeatInterval, TimeSpan.FromSeconds(17)),
        new("Relay:ShutdownTimeout", "00:00:13", sp => Relay(sp).ShutdownTimeout, TimeSpan.FromSeconds(13)),
        new("Relay:OwnerId", "relay-a", sp => Relay(sp).OwnerId, "relay-a"),
        new("PostgreSql:ConnectionString", "Host=127.0.0.1;Database=configured", sp => Get<PostgreSqlOptions>(sp).ConnectionString, "Host=127.0.0.1;Database=configured"),
        new("PostgreSql:Schema", "configured", sp => Get<PostgreSqlOptions>(sp).Schema, "configured"),
        new("PostgreSql:NotifyOnEnqueue", "false", sp => Get<PostgreSqlOptions>(sp).NotifyOnEnqueue, false),
        new("PostgreSql:ListenForNotifications", "false", sp => Get<PostgreSqlOptions>(sp).ListenForNotifications, false),
        new("RabbitMQ:ConnectionString", "amqp://app:secret@127.0.0.1:5999/", sp => Get<RabbitMQTransportOptions>(sp).ConnectionString, "amqp://app:secret@127.0.0.1:5999/"),
        new("RabbitMQ:ClientProvidedName", "shop", sp => Get<RabbitMQTransportOptions>(sp).ClientProvidedName, "shop"),
        new("RabbitMQ:ExchangeName", "shop-events", sp => Get<RabbitMQTransportOptions>(sp).ExchangeName, "shop-events"),
        new("RabbitMQ:DeclareQueues", "false", sp => Get<RabbitMQTransportOptions>(sp).DeclareQueues, false),
        new("RabbitMQ:QueuePrefix", "shop.", sp => Get<RabbitMQTransportOptions>(sp).QueuePrefix, "shop."),
        new("RabbitMQ:QueueType", "quorum", sp => Get<RabbitMQTransportOptions>(sp).QueueType, "quorum"),
        new("RabbitMQ:Partitions", "4", sp => Get<RabbitMQTransportOptions>(sp).Partitions, 4),
        new("RabbitMQ:TopicPartitions:orders", "8", sp => Get<RabbitMQTransportOptions>(sp).TopicPartitions["orders"], 8),
        new("RabbitMQ:PublishChannels", "3", sp => Get<RabbitMQTransportOptions>(sp).PublishChannels, 3),
        new("RabbitMQ:MaxOutstandingConfirms", "100", sp => Get<RabbitMQTransportOptions>(sp).MaxOutstandingConfirms, 100),
        new("RabbitMQ:ConnectionTimeout", "00:00:07", sp => Get<RabbitMQTransportOptions>(sp).ConnectionTimeout, TimeSpan.FromSeconds(7)),
        new("RabbitMQ:ReconnectDelay", "00:00:03", sp => Get<RabbitMQTransportOptions>(sp).ReconnectDelay, TimeSpan.FromSeconds(3)),
        new("RabbitMQConsumers:ClientProvidedName", "shop-worker", sp => Get<RabbitMQConsumerOptions>(sp).ClientProvidedName, "shop-worker"),
        new("RabbitMQConsumers:ConnectionTimeout", "00:00:09", sp => Get<RabbitMQConsumerOptions>(sp).ConnectionTimeout, TimeSpan.FromSeconds(9)),
        new("RabbitMQConsumers:ReconnectDelay", "00:00:04", sp => Get<RabbitMQConsumerOptions>(sp).ReconnectDelay, TimeSpan.FromSeconds(4)),
        new("RabbitMQConsumers:RebalanceInterval", "00:00:07", sp => Get<RabbitMQConsumerOptions>(sp).RebalanceInterval, TimeSpan.FromSeconds(7)),
        new("Consumers:ShutdownTimeout", "00:00:21", sp => Get<ConsumerOptions>(sp).ShutdownTimeout, TimeSpan.FromSeconds(21)),
        new("Consumers:RetryPollInterval", "00:00:02", sp => Get<ConsumerOptions>(sp).RetryPollInterval, TimeSpan.FromSeconds(2)),
        new("Consumers:IdleRetryPollInterval", "00:00:20", sp => Get<ConsumerOptions>(sp).IdleRetryPollInterval, TimeSpan.FromSeconds(20)),
        new("Consumers:RetryBatchSize", "50", sp => Get<ConsumerOptions>(sp).RetryBatchSize, 50),
        new("Consumers:PausePollInterval", "00:00:03", sp => Get<ConsumerOptions>(sp).PausePollInterval, TimeSpan.FromSeconds(3)),
        new("Consumers:InboxRetention", "3.00:00:00", sp => Get<ConsumerOptions>(sp).InboxRetention, TimeSpan.FromDays(3)),
        new("Consumers:CleanupInterval", "00:02:00", sp => Get<ConsumerOptions>(sp).CleanupInterval, TimeSpan.FromMinutes(2)),
        new("Consumers:CleanupBatchSize", "300", sp => Get<ConsumerOptions>(sp).CleanupBatchSize, 300),
        new("Consumers:HandleSignals", "false", sp => Get<ConsumerOptions>(sp).HandleSignals, false),
        new("Consumers:HeartbeatInterval", "00:00:19", sp => Get<ConsumerOptions>(sp).HeartbeatInterval, TimeSpan.FromSeconds(19)),
        new("Consumers:OwnerId", "worker-a", sp => Get<ConsumerOptions>(sp).OwnerId, "worker-a"),
        new("HealthChecks:OldestPendingThreshold", "00:15:00", sp => Get<PostboxHealthCheckOptions>(sp).OldestPendingThreshold, TimeSpan.FromMinutes(15)),
        new("HealthChecks:RelayStallTimeout", "00:02:00", sp => Get<PostboxHealthCheckOptions>(sp).RelayStallTimeout, TimeSpan.FromMinutes(2)),
        new("HealthChecks:Timeout", "00:00:03", sp => Get<PostboxHealthCheckOptions>(sp).Timeout, TimeSpan.FromSeconds(3)),
        new("Sqlite:TablePrefix", "shop_", sp => Get<SqliteOptions>(sp).TablePrefix, "shop_"),
        new("MySql:TablePrefix", "shop_", sp => Get<Postbox.MySql.MySqlOptions>(sp).TablePrefix, "shop_"),
    ];

    [Fact]
    public void EveryDocumentedKey_IsCoveredHere()
    {
        var documented = DocumentedKeys();
        Assert.True(documented.Count > 40, $"Only {documented.Count} keys found in docs/operations.md.");
        Assert.Equal(documented.Order(StringComparer.Ordinal), Keys.Select(k => Pattern(k.Path)).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EveryDocumentedKey_TakesEffect()
    {
        using var postgres = Build(Keys, b => b.UsePostgreSql(_ => { }).UseRabbitMQ(_ => { }).UseRabbitMQConsumers().AddHandler<string, NoHandler>("t").AddHealthChecks());
        using var sqlite = Build(Keys, b => b.UseSqlite("Data Source=:memory:"));
        using var mySql = Build(Keys, b => b.UseMySql("Server=127.0.0.1;Database=shop"));
        foreach (var key in Keys)
        {
            var host = key.Path.StartsWith("Sqlite:", StringComparison.Ordinal) ? sqlite : key.Path.StartsWith("MySql:", StringComparison.Ordinal) ? mySql : postgres;
            Assert.True(Equals(key.Expected, key.Read(host.Services)), $"Postbox:{key.Path} = '{key.Value}' gave {key.Read(host.Services)}, expected {key.Expected}.");
        }

        // Not set in RabbitMQConsumers: taken from the publishing transport's section.
        var consumer = Get<RabbitMQConsumerOptions>(postgres.Services);
        Assert.Equal(("shop-events", "shop.", "quorum", 4), (consumer.ExchangeName, consumer.QueuePrefix, consumer.QueueType, consumer.Partitions));
    }

    [Fact]
    public void CodeConfiguration_WinsOverTheSection_WhateverTheCallOrder()
    {
        using var host = Build(Keys, b => b
            .ConfigureConsumers(o => o.RetryBatchSize = 5)
            .UsePostgreSql("Host=127.0.0.1;Database=code", o => o.Schema = "code")
            .UseRabbitMQ(o => o.ExchangeName = "code")
            .UseInMemoryConsumerSource()
            .AddHandler<string, NoHandler>("t", o => o.ConsumerName = "c")
            .AddHealthChecks(o => o.Timeout = TimeSpan.FromSeconds(1)),
            o => o.Relay.BatchSize = 5);
        Assert.Equal(5, Relay(host.Services).BatchSize);
        Assert.Equal(TimeSpan.FromSeconds(2), Relay(host.Services).PollInterval); // from the section
        Assert.Equal(5, Get<ConsumerOptions>(host.Services).RetryBatchSize);
        Assert.Equal(TimeSpan.FromSeconds(21), Get<ConsumerOptions>(host.Services).ShutdownTimeout);
        Assert.Equal(("Host=127.0.0.1;Database=code", "code"), (Get<PostgreSqlOptions>(host.Services).ConnectionString, Get<PostgreSqlOptions>(host.Services).Schema));
        Assert.Equal("code", Get<RabbitMQTransportOptions>(host.Services).ExchangeName);
        Assert.Equal(TimeSpan.FromSeconds(1), Get<PostboxHealthCheckOptions>(host.Services).Timeout);
        Assert.Equal(TimeSpan.FromMinutes(15), Get<PostboxHealthCheckOptions>(host.Services).OldestPendingThreshold);
    }

    [Theory]
    [InlineData("Relay:BatchSize", "many", "Postbox:Relay:BatchSize")]
    [InlineData("Relay:PollInterval", "soon", "Postbox:Relay:PollInterval")]
    [InlineData("Relay:DeadKeyPolicy", "Drop", "Postbox:Relay:DeadKeyPolicy")]
    [InlineData("Relay:RetryPolicy", "Linear(00:00:01)", "Postbox:Relay:RetryPolicy")]
    [InlineData("Relay:RetryPolicy", "Exponential(00:00:10, 00:00:01)", "Postbox:Relay:RetryPolicy")]
    [InlineData("Consumers:HandleSignals", "sometimes", "Postbox:Consumers:HandleSignals")]
    public async Task AValueThatDoesNotConvert_FailsStart_NamingTheKey(string key, string value, string expected)
    {
        using var host = Build([new(key, value, _ => null, null)], b => b.UsePostgreSql(o => o.ConnectionString = "Host=127.0.0.1").UseInMemoryTransport()
            .UseInMemoryConsumerSource().AddHandler<string, NoHandler>("t"));
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        Assert.Contains(expected, Messages(error), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OutOfRangeValues_FailStart_ListingEveryKey()
    {
        Key[] wrong =
        [
            new("Relay:BatchSize", "0", _ => null, null),
            new("MaxPayloadBytes", "-1", _ => null, null),
            new("RabbitMQ:PublishChannels", "0", _ => null, null),
            new("Consumers:RetryBatchSize", "0", _ => null, null),
            new("HealthChecks:Timeout", "00:00:00", _ => null, null),
            new("PostgreSql:Schema", "Bad-Schema", _ => null, null),
        ];
        using var host = Build(wrong, b => b.UsePostgreSql(o => o.ConnectionString = "Host=127.0.0.1").UseRabbitMQ(_ => { })
            .UseInMemoryConsumerSource().AddHandler<string, NoHandler>("t").AddHealthChecks());
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        var messages = Messages(error);
        foreach (var key in wrong)
        {
            Assert.Contains("Postbox:" + key.Path, messages, StringComparison.Ordinal);
        }
    }

    private static IHost Build(IEnumerable<Key> keys, Action<PostboxBuilder> providers, Action<PostboxOptions>? configure = null)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(keys.Select(k => KeyValuePair.Create("Postbox:" + k.Path, (string?)k.Value)));
        providers(builder.Services.AddPostbox(builder.Configuration.GetSection("Postbox"), configure));
        return builder.Build();
    }

    private static string Messages(Exception error) =>
        error is AggregateException aggregate
            ? string.Join('\n', aggregate.InnerExceptions.Select(Messages))
            : error.Message + (error.InnerException is { } inner ? "\n" + Messages(inner) : "");

    // A documented dictionary key is written with a placeholder: `RabbitMQ:TopicPartitions:{topic}`.
    private static string Pattern(string path) => path.Replace("TopicPartitions:orders", "TopicPartitions:{topic}", StringComparison.Ordinal);

    /// <summary>The keys in the first column of the tables under docs/operations.md's "Options" heading.</summary>
    private static List<string> DocumentedKeys([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        var root = Path.GetDirectoryName(source);
        while (root is not null && !File.Exists(Path.Combine(root, "Postbox.slnx")))
        {
            root = Path.GetDirectoryName(root);
        }

        var text = File.ReadAllText(Path.Combine(root!, "docs", "operations.md"));
        var start = text.IndexOf("\n## Options", StringComparison.Ordinal);
        var end = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return [.. TableKey().Matches(text[start..end]).Select(m => m.Groups[1].Value)];
    }

    [GeneratedRegex(@"^\| `([A-Za-z:{}]+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableKey();

    private sealed class NoHandler : IMessageHandler<string>
    {
        public Task HandleAsync(string message, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
