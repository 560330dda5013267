using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using RabbitMQ.Client;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// 7. Ordering cost: a backlog of keyed messages (keys drawn at random from <c>--ordering-keys</c>, default 1,000) drained
/// from RabbitMQ by the consumer runtime with the PostgreSQL inbox, default options (concurrency 12), once with
/// <see cref="MessageOrdering.ByKey"/> (the default) and once <see cref="MessageOrdering.Unordered"/>, alternating over
/// rounds, each on a fresh queue and schema. The figure: ordered ÷ unordered messages per second (target ≥ 0.9).
/// </summary>
internal sealed class OrderingScenario(BenchContext context)
{
    public async Task RunAsync()
    {
        var o = context.Options;
        Progress.Say($"7. Ordering: {o.OrderingMessages:N0} messages over {o.OrderingKeys:N0} keys, ordered vs unordered, {o.OrderingRounds} rounds");
        var rates = new Dictionary<MessageOrdering, List<double>> { [MessageOrdering.ByKey] = [], [MessageOrdering.Unordered] = [] };
        for (var round = 0; round < o.OrderingRounds; round++)
        {
            // Alternate which mode goes first, so a drifting machine does not favour one.
            var modes = round % 2 == 0 ? new[] { MessageOrdering.ByKey, MessageOrdering.Unordered } : [MessageOrdering.Unordered, MessageOrdering.ByKey];
            foreach (var mode in modes)
            {
                var rate = await context.Broker.MeasureAsync($"ordering {mode}", () => DrainAsync(mode, round));
                rates[mode].Add(rate);
                Progress.Say($"  round {round + 1} {mode}: {rate:N0} msg/s");
            }
        }

        var ordered = Median(rates[MessageOrdering.ByKey]);
        var unordered = Median(rates[MessageOrdering.Unordered]);
        context.Report.Add("7", $"consumer drain, {o.OrderingKeys:N0} keys, ordered by key (msg/s) vs unordered",
            Report.F(ordered, "N0"), Report.F(unordered, "N0"), ordered / unordered, "≥ 0.90", ordered / unordered >= 0.9);
        context.Report.Note("7. Ordering", $"Median of {o.OrderingRounds} rounds each; ordered {string.Join(", ", rates[MessageOrdering.ByKey].Select(r => Report.F(r, "N0")))} msg/s, " +
            $"unordered {string.Join(", ", rates[MessageOrdering.Unordered].Select(r => Report.F(r, "N0")))} msg/s. Handler does nothing but commit the inbox row " +
            "(the runtime's own cost is all there is to compare); default concurrency 12, prefetch 24 ordered / 12 unordered.");
    }

    private async Task<double> DrainAsync(MessageOrdering mode, int round)
    {
        var o = context.Options;
        var name = $"ord{(mode == MessageOrdering.ByKey ? "k" : "u")}{round}";
        var exchange = context.RunId + "_ordering";
        var topic = "bench.ordering." + name;
        var queue = context.RunId + "." + topic;
        await context.Broker.DeclareAsync(exchange, queue, topic);
        var schema = await context.NewSchemaAsync(name);
        await PublishAsync(exchange, topic, o.OrderingMessages, o.OrderingKeys);

        var counter = new DrainCounter(o.OrderingMessages);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(counter);
        builder.Services.AddPostbox(p => p.Relay.Enabled = false)
            .UsePostgreSql(schema.DataSource, p => { p.Schema = schema.Name; p.ListenForNotifications = false; })
            .UsePostgreSqlInbox()
            .UseRabbitMQConsumers(r => { r.ConnectionString = o.RabbitMQ; r.ExchangeName = exchange; })
            .ConfigureConsumers(c => c.HandleSignals = false)
            .AddHandler<BenchItem, CountingHandler>(topic, h =>
            {
                h.ConsumerName = "bench-" + name;
                h.Queue = queue;
                h.Ordering = mode;
            });
        using var host = builder.Build();
        var watch = Stopwatch.StartNew();
        await host.StartAsync();
        await counter.Done.WaitAsync(TimeSpan.FromMinutes(10));
        var seconds = watch.Elapsed.TotalSeconds;
        await host.StopAsync();
        return o.OrderingMessages / seconds;
    }

    private async Task PublishAsync(string exchange, string topic, int count, int keys)
    {
        await using var channel = await context.Broker.Connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var random = new Random(42);
        var body = Encoding.UTF8.GetBytes("{\"n\":1}");
        var pending = new List<Task>(1000);
        for (var i = 0; i < count; i++)
        {
#pragma warning disable CA5394 // Key distribution for a benchmark, not security.
            var key = "key-" + random.Next(keys).ToString(System.Globalization.CultureInfo.InvariantCulture);
#pragma warning restore CA5394
            var properties = new BasicProperties
            {
                MessageId = Guid.CreateVersion7().ToString("D"),
                Persistent = true,
                Headers = new Dictionary<string, object?> { ["postbox-key"] = Encoding.UTF8.GetBytes(key) },
            };
            pending.Add(channel.BasicPublishAsync(exchange, topic, mandatory: true, properties, body).AsTask());
            if (pending.Count == 1000)
            {
                await Task.WhenAll(pending);
                pending.Clear();
            }
        }

        await Task.WhenAll(pending);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

internal sealed record BenchItem(int N);

/// <summary>Completes <see cref="Done"/> once the expected number of messages was handled.</summary>
internal sealed class DrainCounter(int expected)
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;

    public Task Done => _done.Task;

    public void Handled()
    {
        if (Interlocked.Increment(ref _count) >= expected)
        {
            _done.TrySetResult();
        }
    }
}

/// <summary>Does nothing but count: the inbox commit after it is the whole per-message cost.</summary>
internal sealed class CountingHandler(DrainCounter counter) : IMessageHandler<BenchItem>
{
    public Task HandleAsync(BenchItem message, MessageContext context, CancellationToken cancellationToken)
    {
        counter.Handled();
        return Task.CompletedTask;
    }
}
