using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.Diagnostics;

namespace Postbox.Consumers.Tests;

public sealed class TraceTests : ServerTest
{
    private static readonly ActivitySource Producer = new("Postbox.Consumers.Tests.Producer");
    [Fact]
    public async Task Trace_OutboxThroughInMemoryTransport_CreateSendProcessChainUnderTheProducerSpan()
    {
        var consumer = "trace-" + Guid.NewGuid().ToString("N");
        var activities = new ConcurrentQueue<Activity>();
        var all = new ConcurrentQueue<Activity>();
        using var listener = Listen(consumer, activities, all: all);

        var script = new HandlerScript { Schema = Db.Schema };
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(script);
        // The test reads the stored traceparent of the delivered row, so the relay keeps it (the default deletes on confirm).
        builder.Services.AddPostbox(o => (o.Relay.PollInterval, o.Relay.DeliveredRetention) = (TimeSpan.FromMilliseconds(50), TimeSpan.FromHours(1)))
            .UsePostgreSql(TestEnvironment.PostgresConnectionString, o => { o.Schema = Db.Schema; o.ListenForNotifications = false; })
            .UsePostgreSqlInbox()
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o => o.HandleSignals = false)
            .AddHandler<WorkItem, TestHandler>("traced", o => o.ConsumerName = consumer);
        using var host = builder.Build();
        await host.StartAsync();

        ActivityContext producer;
        var message = OutboxMessage.FromJson("traced", new WorkItem("traced"));
        using (var activity = Producer.StartActivity("create order", ActivityKind.Internal))
        {
            Assert.NotNull(activity);
            producer = activity.Context;
            await using var connection = await Db.DataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await host.Services.GetRequiredService<IOutbox>().EnqueueAsync(transaction, message);
            await transaction.CommitAsync();
        }

        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(!activities.IsEmpty), TimeSpan.FromSeconds(20), "consumer activity");
        var consumed = Assert.Single(activities);
        // The enqueue's create span is the producer span's child, the relay's send span the create span's (its context
        // stored in the row), and the consumer's process span the send span's (its context carried by the transport).
        var mine = all.Where(a => (string?)a.GetTagItem("messaging.message.id") == message.Id.ToString()).ToList();
        var create = Assert.Single(mine, a => a.DisplayName == "create traced");
        var send = Assert.Single(mine, a => a.DisplayName == "send traced");
        Assert.Equal((ActivityKind.Producer, ActivityKind.Producer, ActivityKind.Consumer), (create.Kind, send.Kind, consumed.Kind));
        Assert.All([create, send, consumed], a => Assert.Equal(producer.TraceId, a.TraceId));
        Assert.Equal(producer.SpanId, create.ParentSpanId);
        Assert.Equal(create.SpanId, send.ParentSpanId);
        Assert.Equal(send.SpanId, consumed.ParentSpanId);
        Assert.Equal(message.Id.ToString(), consumed.GetTagItem("messaging.message.id"));
        Assert.Equal("postbox", consumed.GetTagItem("messaging.system"));
        Assert.IsType<double>(send.GetTagItem("postbox.outbox.wait_time"));
        // The row keeps the creation context (a later publish attempt is another child of the create span).
        await using (var stored = Db.DataSource.CreateCommand($"SELECT headers->>'traceparent' FROM \"{Db.Schema}\".outbox"))
        {
            Assert.Equal(create.Id, (string?)await stored.ExecuteScalarAsync());
        }
        Assert.Equal(1, await Db.EffectsAsync(message.Id));
        await host.StopAsync();
    }

    [Fact]
    public async Task Trace_RabbitMQDeliveryWithTraceparent_ContinuesProducerTrace()
    {
        var topic = TestBroker.NewTopic("trace");
        await Broker.DeclareAsync(topic);
        var activities = new ConcurrentQueue<Activity>();
        using var listener = Listen(ConsumerHost.Consumer, activities, topic);
        using var host = await ConsumerHost.StartAsync(Db, topic, new HandlerScript());

        var traceId = ActivityTraceId.CreateRandom();
        var spanId = ActivitySpanId.CreateRandom();
        await Broker.PublishAsync(topic, Guid.CreateVersion7(), new WorkItem("x"), $"00-{traceId}-{spanId}-01");
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(!activities.IsEmpty), TimeSpan.FromSeconds(20), "consumer activity");
        var consumed = Assert.Single(activities);
        Assert.Equal(traceId, consumed.TraceId);
        Assert.Equal(spanId, consumed.ParentSpanId);
        Assert.Equal($"process {topic}", consumed.DisplayName);
        await host.StopAsync();
    }

    private static ActivityListener Listen(string consumer, ConcurrentQueue<Activity> activities, string? topic = null, ConcurrentQueue<Activity>? all = null)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is PostboxActivitySource.Name or "Postbox.Consumers.Tests.Producer",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                all?.Enqueue(a);
                if (a.Kind == ActivityKind.Consumer && (string?)a.GetTagItem("messaging.consumer.group.name") == consumer
                    && (topic is null || (string?)a.GetTagItem("messaging.destination.name") == topic))
                {
                    activities.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
