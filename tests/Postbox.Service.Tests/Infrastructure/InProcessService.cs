using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Postbox.Service.Hosting;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>The service's <c>all</c> role hosted in the test process on its own SQLite file and .eml folder, on 127.0.0.1:0.</summary>
public sealed class InProcessService : IAsyncDisposable
{
    private readonly IHost _host;

    private InProcessService(IHost host, string folder, Uri address)
    {
        (_host, Folder, Client) = (host, folder, new HttpClient { BaseAddress = address });
    }

    public string Folder { get; }

    public string MailFolder => Path.Combine(Folder, "mail");

    public string DatabasePath => Path.Combine(Folder, "service.db");

    public HttpClient Client { get; }

    public IServiceProvider Services => _host.Services;

    public static async Task<InProcessService> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var folder = TestEnvironment.TempFolder("all");
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Storage:Sqlite"] = $"Data Source={Path.Combine(folder, "service.db")}",
            ["Mail:PickupDirectory"] = Path.Combine(folder, "mail"),
            ["Postbox:Consumers:HandleSignals"] = "false",
            ["Postbox:Consumers:RetryPollInterval"] = "00:00:00.100",
            ["Postbox:Relay:PollInterval"] = "00:00:00.200",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var host = ServiceApp.Build(ServiceRoles.All, [], overrides, output: null);
        await host.StartAsync();
        var address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new InProcessService(host, folder, new Uri(address));
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<long> CountAsync(string table)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table}";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _host.StopAsync();
        _host.Dispose();
        // Pooled connections keep the file open; release them before deleting the folder.
        SqliteConnection.ClearAllPools();
        Directory.Delete(Folder, recursive: true);
    }
}
