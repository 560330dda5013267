using Npgsql;

namespace Postbox.Bench.Tests;

/// <summary>Tests that run the harness in this process; serial, since Ctrl+C's cleanup kills every live child.</summary>
[CollectionDefinition(Name)]
public sealed class BenchRuns
{
    public const string Name = "Bench runs in this process";
}

/// <summary>
/// A first Ctrl+C drops everything the run created, named with its run id. The signal itself is sent by hand (see
/// bench/README.md); here the cleanup it starts is checked against a schema, a database, a queue and an exchange.
/// </summary>
[Collection(BenchRuns.Name)]
public sealed class BenchInterruptTests
{
    [Fact]
    public async Task TheCleanup_DropsTheRunsSchemasDatabasesQueuesAndExchanges()
    {
        var args = new List<string> { "--no-write" };
        if (Environment.GetEnvironmentVariable("POSTBOX_TEST_POSTGRES") is { Length: > 0 } pg)
        {
            args.AddRange(["--postgres", pg]);
        }

        if (Environment.GetEnvironmentVariable("POSTBOX_TEST_RABBITMQ") is { Length: > 0 } rabbit)
        {
            args.AddRange(["--rabbitmq", rabbit]);
        }

        var options = BenchOptions.Parse(args);
        await using var context = await BenchContext.CreateAsync(options);
        var runId = context.RunId;
        await context.NewSchemaAsync("interrupt");
        await using (var create = context.DataSource.CreateCommand($"CREATE DATABASE \"{runId}_idle\""))
        {
            await create.ExecuteNonQueryAsync();
        }

        await context.Broker.DeclareAsync(runId + "_interrupt", runId + ".interrupt", "k");
        using var cleanup = InterruptCleanup.Install(context);

        await cleanup.DropAsync();

        await using var count = context.DataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname LIKE @p) + (SELECT count(*) FROM pg_database WHERE datname LIKE @p)");
        count.Parameters.AddWithValue("p", runId.Replace("_", "\\_", StringComparison.Ordinal) + "%");
        Assert.Equal(0L, await count.ExecuteScalarAsync());
        await using var channel = await context.Broker.Connection.CreateChannelAsync();
        await Assert.ThrowsAsync<global::RabbitMQ.Client.Exceptions.OperationInterruptedException>(() => channel.QueueDeclarePassiveAsync(runId + ".interrupt"));
        await using var channel2 = await context.Broker.Connection.CreateChannelAsync();
        await Assert.ThrowsAsync<global::RabbitMQ.Client.Exceptions.OperationInterruptedException>(() => channel2.ExchangeDeclarePassiveAsync(runId + "_interrupt"));
    }
}
