using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using Postbox.Storage;

namespace Postbox.Dashboard.Tests.Infrastructure;

/// <summary>
/// The dashboard over a MariaDB store, registered as a user would (<c>UseMySql</c>), in a fresh database: a relay, the
/// in-memory transport and the real consumer of <see cref="DashboardHost"/> (topic "work", consumer "work-handler").
/// </summary>
public sealed class MySqlDashboardHost : IAsyncDisposable
{
    private MySqlDashboardHost(string database, string connectionString, WebApplication app, string baseUrl)
    {
        Database = database;
        ConnectionString = connectionString;
        App = app;
        BaseUrl = baseUrl;
    }

    public string Database { get; }

    public string ConnectionString { get; }

    public WebApplication App { get; }

    public string BaseUrl { get; }

    public string DashboardUrl => BaseUrl + "/postbox/";

    public Handled Handled => App.Services.GetRequiredService<Handled>();

    public static async Task<MySqlDashboardHost> StartAsync()
    {
        var database = "dash_" + Guid.NewGuid().ToString("N")[..12];
        await ServerExecuteAsync($"CREATE DATABASE `{database}` CHARACTER SET utf8mb4");
        var connectionString = new MySqlConnectionStringBuilder(TestEnvironment.MySqlServerConnectionString) { Database = database }.ConnectionString;

        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<Handled>();
        builder.Services.AddPostbox(o =>
            {
                o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
                o.Relay.ShutdownTimeout = TimeSpan.FromSeconds(1);
            })
            .UseMySql(connectionString)
            .UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o =>
            {
                o.RetryPollInterval = TimeSpan.FromMilliseconds(100);
                o.IdleRetryPollInterval = TimeSpan.FromMilliseconds(200);
                o.HandleSignals = false;
                o.ShutdownTimeout = TimeSpan.FromSeconds(1);
            })
            .AddHandler<WorkItem, RecordingHandler>("work", o => o.ConsumerName = DashboardHost.Consumer);
        builder.Services.AddAuthentication(BasicAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BasicAuthentication>(BasicAuthentication.SchemeName, null);
        builder.Services.AddAuthorization(o => o.AddPolicy("postbox-dashboard", p => p.RequireAuthenticatedUser()));
        builder.Services.AddPostboxDashboard(o => o.AuthorizationPolicy = "postbox-dashboard");

        var app = builder.Build();
        await app.Services.GetRequiredService<IPostboxMigrator>().MigrateAsync();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapPostboxDashboard("/postbox");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new MySqlDashboardHost(database, connectionString, app, address.TrimEnd('/'));
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        MySqlConnection.ClearAllPools();
        await ServerExecuteAsync($"DROP DATABASE IF EXISTS `{Database}`");
    }

    public async Task<long> CountAsync(string table, string where, params object[] parameters)
    {
        await using var connection = new MySqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand($"SELECT count(*) FROM postbox_{table} WHERE {where}", connection);
        for (var i = 0; i < parameters.Length; i++)
        {
            command.Parameters.AddWithValue("@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), parameters[i] is Guid id ? id.ToByteArray(bigEndian: true) : parameters[i]);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Writes an outbox row as the relay would have left it: 1 delivered, 2 dead.</summary>
    public async Task<Guid> SeedOutboxAsync(int state, string text, string? lastError = null, int attempts = 0, string topic = "work")
    {
        var id = Guid.CreateVersion7();
        await ExecuteAsync("""
            INSERT INTO postbox_outbox (id, state, topic, type, payload, headers, created_at, available_at, attempts, last_error, last_attempt_at, delivered_at)
            VALUES (@id, @state, @topic, 'WorkItem', @payload, '{"tenant":"acme"}', UTC_TIMESTAMP(6) - INTERVAL 5 MINUTE, UTC_TIMESTAMP(6), @attempts,
                    @error, IF(@error IS NULL, NULL, UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE), IF(@state = 1, UTC_TIMESTAMP(6), NULL))
            """, ("@id", id.ToByteArray(bigEndian: true)), ("@state", state), ("@topic", topic),
            ("@payload", JsonSerializer.SerializeToUtf8Bytes(new WorkItem(text), JsonSerializerOptions.Web)), ("@attempts", attempts), ("@error", lastError));
        return id;
    }

    /// <summary>Writes a dead inbox letter with <paramref name="errors"/> as its history.</summary>
    public async Task<Guid> SeedDeadLetterAsync(string text, params string[] errors)
    {
        var id = Guid.CreateVersion7();
        var history = JsonSerializer.Serialize(errors.Select((error, i) => new { attempt = i + 1, at = DateTimeOffset.UtcNow.AddMinutes(i - errors.Length), error }));
        await ExecuteAsync("""
            INSERT INTO postbox_inbox (message_id, consumer, state, topic, type, payload, headers, attempts, errors, received_at, dead_at)
            VALUES (@id, @consumer, 3, 'work', 'WorkItem', @payload, '{"tenant":"acme"}', @attempts, @errors, UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE, UTC_TIMESTAMP(6))
            """, ("@id", id.ToByteArray(bigEndian: true)), ("@consumer", DashboardHost.Consumer),
            ("@payload", JsonSerializer.SerializeToUtf8Bytes(new WorkItem(text), JsonSerializerOptions.Web)), ("@attempts", errors.Length), ("@errors", history));
        return id;
    }

    private async Task ExecuteAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = new MySqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync();
    }

    private static async Task ServerExecuteAsync(string sql)
    {
        await using var connection = new MySqlConnection(TestEnvironment.MySqlServerConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
