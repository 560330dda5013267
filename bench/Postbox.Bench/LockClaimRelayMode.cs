using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Postbox.Transport;

namespace Postbox.Bench;

/// <summary>
/// <c>lockrelay</c> sub-mode: a <b>prototype</b> of the lock-only claim (bench/results/2026-11-30-storage.md, session 20),
/// built here to measure the design end to end before it changes the library's relay–store contract. Not Postbox's
/// relay, and not safe as one: keyless messages only (no per-key order), no retries, attempts, leases seen by other
/// relays, dashboard or metrics.
/// <para>
/// Each of <c>--in-flight</c> workers holds one connection and repeats one transaction: <c>SELECT … FOR UPDATE SKIP
/// LOCKED</c> of up to <c>--batch-size</c> ready keyless messages (a row lock is written into the existing tuple, not
/// as a new version), publishes them through Postbox's own RabbitMQ transport (the relay's, with confirms), deletes
/// them and commits. A failed publish rolls the transaction back and the rows are ready again (at-least-once); a crashed
/// worker's locks go with its connection. It leaves one tuple version per message instead of two. Its figure is an upper
/// bound for the design: besides the claim it skips work the relay keeps (key heads, pauses, expired leases and due
/// retries in the claim; the topology check, tracing, metrics and publish timeout around the transport; attempts).
/// </para>
/// Prints <c>@READY</c> once the transport is up, <c>@STOPPED n</c> (messages published) after a <c>STOP</c> line.
/// </summary>
internal static class LockClaimRelayMode
{
    public static async Task<int> RunAsync(ChildArgs a)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services
            .AddPostbox(o => o.Relay.Enabled = false)
            .UsePostgreSql(a["pg"], o =>
            {
                o.Schema = a["schema"];
                o.ListenForNotifications = false;
            })
            .UseRabbitMQ(o =>
            {
                o.ConnectionString = a["rabbitmq"];
                o.ExchangeName = a["exchange"];
                o.QueuePrefix = a["queue-prefix"];
                o.ClientProvidedName = "postbox-bench-lockrelay";
            });
        using var host = builder.Build();
        await host.StartAsync();
        var transport = host.Services.GetRequiredService<IOutboxTransport>();
        await using var dataSource = NpgsqlDataSource.Create(a["pg"]);
        var outbox = $"\"{a["schema"]}\".outbox";
        var batchSize = a.Int("batch-size");
        var poll = TimeSpan.FromMilliseconds(a.Int("poll-ms"));
        using var stop = new CancellationTokenSource();
        long published = 0;
        var workers = Enumerable.Range(0, a.Int("in-flight")).Select(_ => Task.Run(() => WorkAsync(stop.Token))).ToArray();
        Console.WriteLine("@READY");
        while (await Console.In.ReadLineAsync() is { } line && line != "STOP")
        {
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers);
        await host.StopAsync();
        Console.WriteLine($"@STOPPED {Interlocked.Read(ref published)}");
        return 0;

        async Task WorkAsync(CancellationToken cancellationToken)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var claim = new NpgsqlCommand(
                $"SELECT id, seq, topic, key, type, payload, headers::text, created_at, attempts, max_attempts FROM {outbox} " +
                "WHERE state = 0 AND key IS NULL AND available_at <= now() ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED", connection);
            claim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
            await using var delete = new NpgsqlCommand($"DELETE FROM {outbox} WHERE id = ANY($1)", connection);
            var ids = new NpgsqlParameter<Guid[]> { TypedValue = [] };
            delete.Parameters.Add(ids);
            await claim.PrepareAsync(cancellationToken);
            await delete.PrepareAsync(cancellationToken);
            var batch = new List<OutboxEnvelope>(batchSize);
            while (!cancellationToken.IsCancellationRequested)
            {
                batch.Clear();
                await using var transaction = await connection.BeginTransactionAsync(CancellationToken.None);
                (claim.Transaction, delete.Transaction) = (transaction, transaction);
                await using (var reader = await claim.ExecuteReaderAsync(CancellationToken.None))
                {
                    while (await reader.ReadAsync(CancellationToken.None))
                    {
                        batch.Add(Read(reader));
                    }
                }

                if (batch.Count == 0)
                {
                    await transaction.CommitAsync(CancellationToken.None);
                    await Task.Delay(poll, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
                    continue;
                }

                try
                {
                    await Task.WhenAll(batch.Select(m => transport.PublishAsync(m, CancellationToken.None).AsTask()));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Nothing is deleted: the rows are ready again once the transaction ends (at-least-once).
                    Console.Error.WriteLine($"lockrelay: publish failed, batch of {batch.Count} rolled back: {ex.Message}");
                    await transaction.RollbackAsync(CancellationToken.None);
                    continue;
                }

                ids.TypedValue = batch.Select(m => m.Id).ToArray();
                await delete.ExecuteNonQueryAsync(CancellationToken.None);
                await transaction.CommitAsync(CancellationToken.None);
                Interlocked.Add(ref published, batch.Count);
            }
        }
    }

    private static OutboxEnvelope Read(NpgsqlDataReader reader) => new(
        Id: reader.GetGuid(0),
        Sequence: reader.GetInt64(1),
        Topic: reader.GetString(2),
        Key: reader.IsDBNull(3) ? null : reader.GetString(3),
        Type: reader.IsDBNull(4) ? null : reader.GetString(4),
        Payload: reader.GetFieldValue<byte[]>(5),
        Headers: reader.IsDBNull(6) ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(6))!,
        CreatedAt: reader.GetFieldValue<DateTimeOffset>(7),
        Attempts: reader.GetInt32(8),
        MaxAttempts: reader.IsDBNull(9) ? null : reader.GetInt32(9));
}
