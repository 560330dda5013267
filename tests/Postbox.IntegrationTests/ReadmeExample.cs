using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Postbox.IntegrationTests;

public sealed record CustomerCreated(Guid Id, string Email);

/// <summary>The usage example shown in README.md, compiled and run by <see cref="ReadmeExampleTests"/>.</summary>
public static class ReadmeExample
{
    public static void Register(IServiceCollection services, string postgres, string rabbitMQ)
    {
        // README:register:begin
        services.AddPostbox(o => o.MigrateOnStart = true)
            .UsePostgreSql(postgres)
            .UseRabbitMQ(o => o.ConnectionString = rabbitMQ);
        // README:register:end
    }

    public static void RegisterFromConfiguration(IHostApplicationBuilder builder)
    {
        // README:configure:begin
        builder.Services.AddPostbox(builder.Configuration.GetSection("Postbox")) // every key: docs/operations.md
            .UsePostgreSql()    // Postbox:PostgreSql:ConnectionString, Schema, ...
            .UseRabbitMQ()      // Postbox:RabbitMQ:ConnectionString, ExchangeName, ...
            .AddHealthChecks(); // Postbox:HealthChecks:OldestPendingThreshold, ...
        // README:configure:end
    }

    public static async Task CreateCustomerAsync(NpgsqlConnection connection, IOutbox outbox, string email)
    {
        // README:enqueue:begin
        var customer = new CustomerCreated(Guid.CreateVersion7(), email);
        await using var tx = await connection.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO customers (id, email) VALUES ($1, $2)", connection, tx))
        {
            insert.Parameters.Add(new() { Value = customer.Id });
            insert.Parameters.Add(new() { Value = customer.Email });
            await insert.ExecuteNonQueryAsync();
        }

        await outbox.EnqueueAsync(tx, "customers", customer, key: customer.Id.ToString()); // JSON, System.Text.Json
        await tx.CommitAsync(); // the row and the message commit together, or neither does
        // README:enqueue:end
    }
}
