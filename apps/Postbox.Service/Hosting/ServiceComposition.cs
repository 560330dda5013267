using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Postbox.Consumers;
using Postbox.Hosting;
using Postbox.Retry;
using Postbox.Service.Customers;
using Postbox.Service.Data;
using Postbox.Service.Mail;
using Postbox.Service.Users;

namespace Postbox.Service.Hosting;

/// <summary>Registers what one process needs for its roles: the database, Postbox (store, relay, transport, consumers) and the features.</summary>
internal static class ServiceComposition
{
    public static void AddPostboxService(this IServiceCollection services, IConfiguration configuration, ServiceConfiguration settings)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(settings);
        var roles = settings.Roles;
        services.AddSingleton(Options.Create(settings.Storage));
        services.AddSingleton(Options.Create(settings.Transport));
        services.AddSingleton(Options.Create(settings.Mail));
        services.AddSingleton(Options.Create(settings.Worker));
        services.AddSingleton(Options.Create(settings.Api));
        services.AddSingleton(settings);
        services.TryAddSingleton(TimeProvider.System);

        var storage = settings.Storage;
        var postgres = storage.Provider == StorageProvider.PostgreSql ? WithApplicationName(storage.PostgreSql!, roles) : null;
        if (storage.Provider == StorageProvider.Sqlite)
        {
            var database = new SqliteAppDatabase(storage.Sqlite);
            if (roles != ServiceRoles.None)
            {
                // The first run needs no preparation. Without a role (migrate, admin) the command decides: migrate
                // creates it, the admin commands never create a database where an operator mistyped a path.
                database.CreateFolder();
            }

            services.AddSingleton(database);
            services.AddSingleton<AppDatabase>(database);
        }
        else if (storage.Provider == StorageProvider.MySql)
        {
            services.AddSingleton(_ => new MySqlAppDatabase(storage.MySql!));
            services.AddSingleton<AppDatabase>(sp => sp.GetRequiredService<MySqlAppDatabase>());
        }
        else
        {
            // Owned by the container, which disposes it (and its connection pool) when the host stops.
            services.AddSingleton(_ => new PostgreSqlAppDatabase(NpgsqlDataSource.Create(postgres!), storage.Schema));
            services.AddSingleton<AppDatabase>(sp => sp.GetRequiredService<PostgreSqlAppDatabase>());
        }

        services.AddSingleton<ServiceMigrator>();
        services.AddSingleton<MailDeliveryStore>();
        services.AddSingleton<MailService>();
        services.AddSingleton<UserStore>();
        services.AddSingleton<UserService>();
        services.AddSingleton<CustomerStore>();

        // The Postbox section first (relay, consumers, health checks), then what the role decides (whether this process relays).
        var inMemory = settings.Transport.Provider == TransportProvider.InMemory;
        var postbox = services.AddPostbox(configuration.GetSection("Postbox"), o =>
        {
            o.MigrateOnStart = storage.MigrateOnStart;
            o.Relay.Enabled = (roles & ServiceRoles.Relay) != 0;
            if (inMemory)
            {
                // In one process the only publish failure is the relay starting before the consumers subscribed:
                // retry in seconds, not asynq's minutes.
                o.Relay.RetryPolicy = RetryPolicy.Exponential(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5));
            }
        });
        // After AddPostbox: hosted services start in registration order, and Postbox's migrations create the schema.
        services.AddHostedService<ServiceMigrationHostedService>();
        postbox.AddHealthChecks();

        var worker = (roles & ServiceRoles.Worker) != 0;
        if (storage.Provider == StorageProvider.Sqlite)
        {
            // Brings the consumers' inbox too, in the same file.
            postbox.UseSqlite(storage.Sqlite);
        }
        else if (storage.Provider == StorageProvider.MySql)
        {
            // Brings the consumers' inbox too, in the same database. No LISTEN/NOTIFY on MySQL: a relay in another
            // process than the API finds new messages by polling (Postbox:Relay:PollInterval).
            postbox.UseMySql(MySqlAppDatabase.WithBinaryIds(storage.MySql!));
        }
        else
        {
            postbox.UsePostgreSql(postgres!, o =>
            {
                o.Schema = storage.Schema;
                o.ListenForNotifications = (roles & ServiceRoles.Relay) != 0;
            });
        }

        var transport = settings.Transport;
        if ((roles & ServiceRoles.Relay) != 0)
        {
            if (inMemory)
            {
                postbox.UseInMemoryTransport();
            }
            else if (transport.Provider == TransportProvider.Kafka)
            {
                postbox.UseKafka(o =>
                {
                    o.BootstrapServers = transport.Kafka;
                    o.AllowAutoCreateTopics = transport.KafkaAutoCreateTopics;
                });
            }
            else
            {
                postbox.UseRabbitMQ(o =>
                {
                    o.ConnectionString = transport.RabbitMQ;
                    o.ExchangeName = transport.Exchange;
                    o.QueuePrefix = transport.QueuePrefix;
                });
            }
        }

        if (worker)
        {
            AddWorker(services, settings, postbox);
        }
    }

    /// <summary>
    /// Names every connection after the process's role (<c>postbox-relay</c>, <c>postbox-worker</c>, <c>postbox-api</c>;
    /// <c>postbox-all</c> or e.g. <c>postbox-api+relay</c> for combined roles), so <c>pg_stat_activity</c> shows who holds
    /// what. A name already in the connection string wins.
    /// </summary>
    internal static string WithApplicationName(string connectionString, ServiceRoles roles)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            var names = new[] { (ServiceRoles.Api, "api"), (ServiceRoles.Relay, "relay"), (ServiceRoles.Worker, "worker"), (ServiceRoles.Dashboard, "dashboard") }
                .Where(r => (roles & r.Item1) != 0).Select(r => r.Item2).ToList();
            builder.ApplicationName = names.Count == 4 ? "postbox-all" : names.Count == 0 ? "postbox-migrate" : "postbox-" + string.Join('+', names);
        }

        return builder.ConnectionString;
    }

    private static void AddWorker(IServiceCollection services, ServiceConfiguration settings, PostboxBuilder postbox)
    {
        services.AddSingleton<MailSender>();
        services.AddSingleton<SentRecorder>();
        if (settings.Transport.Provider == TransportProvider.InMemory)
        {
            postbox.UseInMemoryConsumerSource();
        }
        else if (settings.Transport.Provider == TransportProvider.Kafka)
        {
            postbox.UseKafkaConsumers(o =>
            {
                o.BootstrapServers = settings.Transport.Kafka;
                o.ConfigureConsumer = c => c.AllowAutoCreateTopics = settings.Transport.KafkaAutoCreateTopics;
            });
        }
        else
        {
            postbox.UseRabbitMQConsumers(o =>
            {
                o.ConnectionString = settings.Transport.RabbitMQ;
                o.ExchangeName = settings.Transport.Exchange;
                o.QueuePrefix = settings.Transport.QueuePrefix;
            });
        }

        var worker = settings.Worker;
        void Handler(HandlerOptions o, string consumer)
        {
            o.ConsumerName = consumer;
            o.MaxAttempts = worker.MaxAttempts;
            o.Concurrency = worker.Concurrency;
            o.Timeout = worker.Timeout;
            o.RetryPolicy = worker.RetryDelay is { } delay ? RetryPolicy.Fixed(delay) : RetryPolicy.Asynq;
        }

        postbox
            .AddHandler<SendMailCommand, SendMailHandler>(Topics.MailSend, o => Handler(o, Topics.MailSender))
            .AddHandler<WelcomeMailCommand, WelcomeMailHandler>(Topics.UserWelcome, o => Handler(o, Topics.WelcomeSender))
            .AddHandler<CustomerCreated, CustomerCreatedHandler>(Topics.CustomerCreated, o => Handler(o, Topics.CustomerLogger));
    }
}
