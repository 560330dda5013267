using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Postbox.EntityFrameworkCore.Tests.Infrastructure;
using ShopExample;

namespace Postbox.EntityFrameworkCore.Tests;

public sealed class ReadmeExampleTests
{
    [Fact]
    public async Task ReadmeExample_OrderAndMessageCommitTogether_AndTheHandlerShipsOnceThroughEf()
    {
        await using var store = new PostgreSqlTestStore();
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        // The example's unqualified EF tables and the Postbox tables both live in the test's private schema.
        ReadmeExample.Register(builder.Services, store.ConnectionString);
        builder.Services.Configure<Postbox.PostgreSql.PostgreSqlOptions>(o => { o.Schema = store.Schema; o.ListenForNotifications = false; });
        using var host = builder.Build();
        await using (var connection = new NpgsqlConnection(store.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA \"{store.Schema}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ShopDbContext>().GetService<IRelationalDatabaseCreator>().CreateTablesAsync();
        }

        await host.StartAsync();
        Guid orderId;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            orderId = await ReadmeExample.PlaceOrderAsync(scope.ServiceProvider.GetRequiredService<ShopDbContext>(),
                host.Services.GetRequiredService<IOutbox>(), "ada@example.com", CancellationToken.None);
        }

        await TestEnvironment.WaitUntilAsync(async () => await store.CountAsync("\"Shipments\"") == 1, TimeSpan.FromSeconds(30), "the order shipped");
        await host.StopAsync();
        await using var check = new NpgsqlConnection(store.ConnectionString);
        await check.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT \"OrderId\" FROM \"Shipments\"", check);
        Assert.Equal(orderId, (Guid)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public void Readme_ShowsTheExampleExactlyAsCompiled()
    {
        var root = RepositoryRoot();
        var readme = Normalize(File.ReadAllText(Path.Combine(root, "src", "Postbox.EntityFrameworkCore", "README.md")));
        var source = File.ReadAllText(Path.Combine(root, "tests", "Postbox.EntityFrameworkCore.Tests", "ReadmeExample.cs"));
        foreach (var part in new[] { "model", "register", "enqueue", "handle" })
        {
            var begin = source.IndexOf($"// README:{part}:begin", StringComparison.Ordinal);
            var end = source.IndexOf($"// README:{part}:end", StringComparison.Ordinal);
            Assert.True(begin >= 0 && end > begin, $"markers of '{part}' missing");
            var snippet = Normalize(source[(source.IndexOf('\n', begin) + 1)..end]);
            Assert.Contains(snippet, readme, StringComparison.Ordinal);
        }
    }

    private static string RepositoryRoot([CallerFilePath] string source = "")
    {
        var root = Path.GetDirectoryName(source);
        while (root is not null && !File.Exists(Path.Combine(root, "Postbox.slnx")))
        {
            root = Path.GetDirectoryName(root);
        }

        return root ?? throw new InvalidOperationException("Repository root not found.");
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
