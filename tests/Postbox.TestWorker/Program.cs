// A consumer worker for the process-level tests. Configured by environment variables:
//   POSTBOX_TEST_POSTGRES, POSTBOX_TEST_RABBITMQ  servers
//   WORKER_SCHEMA       Postbox schema (already migrated) holding the table "effects"
//   WORKER_TOPIC        topic to consume
//   WORKER_DELAY_MS     how long the handler sleeps before writing its effect (honours cancellation)
//   WORKER_SHUTDOWN_MS  ConsumerOptions.ShutdownTimeout
//   WORKER_DELAY_MS     also "MIN-MAX": a random delay per message
//   WORKER_CONCURRENCY  HandlerOptions.Concurrency (default 4; "default" keeps the library's default)
//   WORKER_PARTITIONS   RabbitMQ partitions of the topic (default 0)
//   WORKER_TIMEOUT_MS   HandlerOptions.Timeout (default 120000); also sets the retry lease (2 x timeout + shutdown + 1 min)
//   WORKER_REBALANCE_MS RabbitMQConsumerOptions.RebalanceInterval in ms (unset: the library's default; 0 turns hand-overs off)
// Prints "STARTED <id>" when a handler starts and "DONE <id>" after its effect is written (before the commit).
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.TestWorker;

var schema = Environment.GetEnvironmentVariable("WORKER_SCHEMA") ?? throw new InvalidOperationException("WORKER_SCHEMA is required.");
var topic = Environment.GetEnvironmentVariable("WORKER_TOPIC") ?? throw new InvalidOperationException("WORKER_TOPIC is required.");
var postgres = Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";
var rabbit = Environment.GetEnvironmentVariable("POSTBOX_TEST_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:5672/";
var shutdown = TimeSpan.FromMilliseconds(int.Parse(Environment.GetEnvironmentVariable("WORKER_SHUTDOWN_MS") ?? "10000", System.Globalization.CultureInfo.InvariantCulture));

var concurrency = Environment.GetEnvironmentVariable("WORKER_CONCURRENCY") ?? "4";
var partitions = int.Parse(Environment.GetEnvironmentVariable("WORKER_PARTITIONS") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

var rebalance = Environment.GetEnvironmentVariable("WORKER_REBALANCE_MS") is { Length: > 0 } ms
    ? TimeSpan.FromMilliseconds(int.Parse(ms, System.Globalization.CultureInfo.InvariantCulture))
    : (TimeSpan?)null;

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Logging.SetMinimumLevel(LogLevel.Information);
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown + TimeSpan.FromSeconds(20));
builder.Services.AddPostbox(o => o.Relay.Enabled = false)
    .UsePostgreSql(postgres, o => { o.Schema = schema; o.ListenForNotifications = false; })
    .UsePostgreSqlInbox()
    .UseRabbitMQConsumers(o => { o.ConnectionString = rabbit; o.ReconnectDelay = TimeSpan.FromMilliseconds(500); o.Partitions = partitions;
        if (rebalance is { } interval)
        {
            o.RebalanceInterval = interval;
        }
    })
    .ConfigureConsumers(o => { o.ShutdownTimeout = shutdown; o.RetryPollInterval = TimeSpan.FromMilliseconds(200); })
    .AddHandler<WorkItem, EffectHandler>(topic, o =>
    {
        o.ConsumerName = "test-worker";
        if (concurrency != "default")
        {
            o.Concurrency = int.Parse(concurrency, System.Globalization.CultureInfo.InvariantCulture);
        }

        o.Timeout = TimeSpan.FromMilliseconds(int.Parse(Environment.GetEnvironmentVariable("WORKER_TIMEOUT_MS") ?? "120000", System.Globalization.CultureInfo.InvariantCulture));
    });

using var host = builder.Build();
host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => Console.WriteLine("READY"));
await host.RunAsync();
Console.WriteLine("EXITED");
