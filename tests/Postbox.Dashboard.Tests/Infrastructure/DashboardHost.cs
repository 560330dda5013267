using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Postbox.Consumers;
using Postbox.Monitoring;
using Postbox.PostgreSql;
using Postbox.PostgreSql.Monitoring;

namespace Postbox.Dashboard.Tests.Infrastructure;

/// <summary>
/// A web app on 127.0.0.1 (random port) with the dashboard at /postbox over a fresh PostgreSQL schema. With
/// <c>withPostbox</c> it also runs a relay, the in-memory transport and a real consumer (<see cref="RecordingHandler"/> on
/// topic "work", consumer "work-handler", and topic "other", consumer "other-handler"); without it, only the monitor, so nothing moves under the counts.
/// </summary>
public sealed class DashboardHost : IAsyncDisposable
{
    public const string Consumer = "work-handler";

    /// <summary>A second consumer, of topic "other": the one that keeps flowing while "work" is paused.</summary>
    public const string OtherConsumer = "other-handler";

    private DashboardHost(string schema, NpgsqlDataSource dataSource, WebApplication app, string baseUrl)
    {
        Schema = schema;
        DataSource = dataSource;
        App = app;
        BaseUrl = baseUrl;
    }

    public string Schema { get; }

    public NpgsqlDataSource DataSource { get; }

    public WebApplication App { get; }

    public string BaseUrl { get; }

    public string DashboardUrl => BaseUrl + "/postbox/";

    public Handled Handled => App.Services.GetRequiredService<Handled>();

    public static async Task<DashboardHost> StartAsync(bool withPostbox, Action<PostboxDashboardOptions>? dashboard = null,
        Action<Postbox.Hosting.PostboxBuilder>? postbox = null, TimeSpan? heartbeat = null, bool serverRegistry = true)
    {
        var schema = "dash_" + Guid.NewGuid().ToString("N")[..12];
        var dataSource = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);
        await new PostgreSqlMigrator(dataSource, new PostgreSqlOptions { Schema = schema }).MigrateAsync();

        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<Handled>();
        if (withPostbox)
        {
            var added = builder.Services.AddPostbox(o =>
                {
                    o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
                    o.Relay.ShutdownTimeout = TimeSpan.FromSeconds(1);
                    o.Relay.HeartbeatInterval = heartbeat ?? o.Relay.HeartbeatInterval;
                    o.Relay.DeliveredRetention = TimeSpan.FromHours(1); // the pages show the delivered history
                })
                .UsePostgreSql(dataSource, o => o.Schema = schema)
                .UseInMemoryTransport()
                .UseInMemoryConsumerSource()
                .ConfigureConsumers(o =>
                {
                    o.RetryPollInterval = TimeSpan.FromMilliseconds(100);
                    o.IdleRetryPollInterval = TimeSpan.FromMilliseconds(200);
                    o.HandleSignals = false;
                    o.ShutdownTimeout = TimeSpan.FromSeconds(1);
                    o.HeartbeatInterval = heartbeat ?? o.HeartbeatInterval;
                })
                .AddHandler<WorkItem, RecordingHandler>("work", o => o.ConsumerName = Consumer)
                .AddHandler<WorkItem, RecordingHandler>("other", o => o.ConsumerName = OtherConsumer);
            postbox?.Invoke(added);
        }
        else
        {
            builder.Services.AddSingleton<IPostboxMonitor>(new PostgreSqlPostboxMonitor(dataSource, new PostgreSqlOptions { Schema = schema }));
            if (serverRegistry)
            {
                builder.Services.AddSingleton<IServerRegistry>(new PostgreSqlServerRegistry(dataSource, new PostgreSqlOptions { Schema = schema }));
            }
        }

        builder.Services.AddAuthentication(BasicAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BasicAuthentication>(BasicAuthentication.SchemeName, null);
        builder.Services.AddAuthorization(o => o.AddPolicy("postbox-dashboard", p => p.RequireAuthenticatedUser()));
        builder.Services.AddPostboxDashboard(o =>
        {
            o.AuthorizationPolicy = "postbox-dashboard";
            o.PageSize = 50;
            dashboard?.Invoke(o);
        });

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapPostboxDashboard("/postbox");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardHost(schema, dataSource, app, address.TrimEnd('/'));
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await ExecuteAsync("DROP SCHEMA IF EXISTS {schema} CASCADE");
        await DataSource.DisposeAsync();
    }

    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", $"\"{Schema}\"", StringComparison.Ordinal));
        command.CommandTimeout = 600; // The scale measurement writes a million rows in one statement.
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Waits until a row matches (the consumer's commit lands just after the handler returns).</summary>
    public async Task WaitForAsync(string table, string where, params object[] parameters)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await CountAsync(table, where, parameters) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"No {table} row with {where} after 20 s.");
            await Task.Delay(100);
        }
    }

    public async Task<IReadOnlyList<string>> QueryLinesAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", $"\"{Schema}\"", StringComparison.Ordinal));
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return lines;
    }

    public async Task<long> CountAsync(string table, string where, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand($"SELECT count(*) FROM \"{Schema}\".{table} WHERE {where}");
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Writes an outbox row in a given state, as the relay would have left it.</summary>
    public async Task<Guid> SeedOutboxAsync(short state, string topic = "work", string? key = null, string text = "hello", string? lastError = null,
        int attempts = 0, TimeSpan? dueIn = null)
    {
        var id = Guid.CreateVersion7();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new WorkItem(text), JsonSerializerOptions.Web);
        await ExecuteAsync("""
            INSERT INTO {schema}.outbox (id, state, topic, key, type, payload, headers, created_at, available_at, attempts, last_error, last_attempt_at, delivered_at)
            VALUES ($1, $2, $3, $4, 'WorkItem', $5, '{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tenant":"acme"}'::jsonb,
                    now() - interval '5 minutes', now() + $6, $7, $8::text, CASE WHEN $8::text IS NULL THEN NULL ELSE now() - interval '1 minute' END,
                    CASE WHEN $2 = 1 THEN now() END)
            """, id, state, topic, (object?)key ?? DBNull.Value, payload, dueIn ?? TimeSpan.Zero, attempts, (object?)lastError ?? DBNull.Value);
        return id;
    }

    /// <summary>Writes an inbox row: state 1 processed, 2 retrying (due later), 3 dead with <paramref name="errors"/> as its history.</summary>
    public async Task<Guid> SeedInboxAsync(short state, string consumer = Consumer, string topic = "work", string text = "hello", params string[] errors)
    {
        var id = Guid.CreateVersion7();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new WorkItem(text), JsonSerializerOptions.Web);
        var history = new StringBuilder("[");
        for (var i = 0; i < errors.Length; i++)
        {
            history.Append(i == 0 ? string.Empty : ",").Append(JsonSerializer.Serialize(new
            {
                attempt = i + 1,
                at = DateTimeOffset.UtcNow.AddMinutes(i - errors.Length),
                error = errors[i],
            }));
        }

        history.Append(']');
        await ExecuteAsync("""
            INSERT INTO {schema}.inbox (message_id, consumer, state, topic, type, payload, headers, attempts, errors, received_at, processed_at, next_attempt_at, dead_at)
            VALUES ($1, $2, $3, $4, 'WorkItem', CASE WHEN $3 = 1 THEN NULL ELSE $5 END, '{"tenant":"acme"}'::jsonb, $6, $7::jsonb, now() - interval '10 minutes',
                    CASE WHEN $3 = 1 THEN now() END, CASE WHEN $3 = 2 THEN now() + interval '1 hour' END, CASE WHEN $3 = 3 THEN now() END)
            """, id, consumer, state, topic, payload, Math.Max(1, errors.Length), history.ToString());
        return id;
    }
}
