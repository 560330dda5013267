using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Postbox.Consumers.Tests.Infrastructure;
using Postbox.PostgreSql;
using Postbox.Retry;

namespace Postbox.Consumers.Tests;

/// <summary>A handler that runs whatever the test gives it.</summary>
public sealed class ScriptedHandler(Func<WorkItem, MessageContext, CancellationToken, Task> script) : IMessageHandler<WorkItem>
{
    public Task HandleAsync(WorkItem message, MessageContext context, CancellationToken cancellationToken) => script(message, context, cancellationToken);
}

/// <summary>
/// Connections at the edges of the PostgreSQL store (relay, in-memory transport and handlers in one process, real
/// PostgreSQL): handler session state, pool sizes, the LISTEN connection, server timeouts, a handler that ends the inbox
/// transaction itself.
/// </summary>
public sealed class PostgreSqlConnectionTests : ServerTest
{
    private readonly CapturedLogs _logs = new();

    private IHost Build(Func<WorkItem, MessageContext, CancellationToken, Task>? handler, string connectionString, Action<Hosting.PostboxOptions>? postbox = null,
        int concurrency = 1, int maxAttempts = 3, bool listen = false, NpgsqlDataSource? dataSource = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(_logs).SetMinimumLevel(LogLevel.Debug);
        var postboxBuilder = builder.Services.AddPostbox(o =>
            {
                o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
                o.Relay.ShutdownTimeout = TimeSpan.FromSeconds(1);
                postbox?.Invoke(o);
            });
        if (dataSource is null)
        {
            postboxBuilder.UsePostgreSql(connectionString, o => { o.Schema = Db.Schema; o.ListenForNotifications = listen; });
        }
        else
        {
            postboxBuilder.UsePostgreSql(dataSource, o => { o.Schema = Db.Schema; o.ListenForNotifications = listen; });
        }

        postboxBuilder.UseInMemoryTransport().UseInMemoryConsumerSource()
            .ConfigureConsumers(o => { o.ShutdownTimeout = TimeSpan.FromSeconds(1); o.HandleSignals = false; o.RetryPollInterval = TimeSpan.FromMilliseconds(50); });
        if (handler is not null)
        {
            builder.Services.AddSingleton(handler);
            postboxBuilder.AddHandler<WorkItem, ScriptedHandler>("work", o =>
            {
                o.ConsumerName = ConsumerHost.Consumer;
                o.Concurrency = concurrency;
                o.MaxAttempts = maxAttempts;
                o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(100));
            });
        }

        return builder.Build();
    }

    private static string ConnectionString(string extra) => TestEnvironment.PostgresConnectionString + ";" + extra;

    private async Task<Guid> EnqueueAsync(IHost host, string body)
    {
        var message = OutboxMessage.FromJson("work", new WorkItem(body));
        await using var connection = await Db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await host.Services.GetRequiredService<IOutbox>().EnqueueAsync(transaction, [message]);
        await transaction.CommitAsync();
        return message.Id;
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = Db.DataSource.CreateCommand(sql.Replace("{schema}", $"\"{Db.Schema}\"", StringComparison.Ordinal));
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(MessageContext context, string sql)
    {
        await using var command = new NpgsqlCommand(sql, (NpgsqlConnection)context.Connection, (NpgsqlTransaction)context.Transaction);
        await command.ExecuteNonQueryAsync();
    }

    private async Task WriteEffectAsync(MessageContext context, string body)
    {
        await using var command = new NpgsqlCommand($"INSERT INTO \"{Db.Schema}\".effects (message_id, body) VALUES ($1, $2)",
            (NpgsqlConnection)context.Connection, (NpgsqlTransaction)context.Transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = context.MessageId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = body });
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Handler_SessionSettingTempTableAndAdvisoryLock_DoNotLeakIntoTheNextHandlerOrThePool()
    {
        var lockKey = Random.Shared.NextInt64(1, long.MaxValue);
        var temp = "leak_" + Guid.NewGuid().ToString("N")[..8];
        var probes = new List<(int Pid, string SearchPath, bool TempVisible)>();
        var dirtyPid = 0;
        using var host = Build(async (item, context, _) =>
        {
            var connection = (NpgsqlConnection)context.Connection;
            if (item.Body == "dirty")
            {
                dirtyPid = connection.ProcessID;
                // Session-level, all of them: they outlive the inbox transaction's commit on this connection.
                await ExecuteAsync(context, $"SET search_path = nowhere; CREATE TEMP TABLE {temp} (x int); SELECT pg_advisory_lock({lockKey})");
            }
            else
            {
                await using var command = new NpgsqlCommand($"SELECT current_setting('search_path'), to_regclass('pg_temp.{temp}') IS NOT NULL",
                    connection, (NpgsqlTransaction)context.Transaction);
                await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
                await reader.ReadAsync(CancellationToken.None);
                lock (probes)
                {
                    probes.Add((connection.ProcessID, reader.GetString(0), reader.GetBoolean(1)));
                }
            }

            await WriteEffectAsync(context, item.Body);
        }, ConnectionString("Maximum Pool Size=20"));
        await host.StartAsync();

        await EnqueueAsync(host, "dirty");
        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() == 1, TimeSpan.FromSeconds(20), "the dirty handler ran");
        for (var i = 0; i < 10; i++)
        {
            await EnqueueAsync(host, "probe");
        }

        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() == 11, TimeSpan.FromSeconds(20), "every probe ran");
        await host.StopAsync();

        // The probes ran on the very connection the dirty handler left (one handler connection at a time), so the test
        // shows a reset, not a different connection.
        Assert.Contains(probes, p => p.Pid == dirtyPid);
        Assert.All(probes, p => Assert.Equal("\"$user\", public", p.SearchPath));
        Assert.All(probes, p => Assert.False(p.TempVisible));
        Assert.Equal(0L, await ScalarAsync<long>($"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = {lockKey}"));
    }

    [Fact]
    public async Task Start_WithPoolOfOne_IsRefusedWithTheNumbers()
    {
        using var host = Build(async (item, context, _) => await WriteEffectAsync(context, item.Body), ConnectionString("Maximum Pool Size=1;Timeout=5"), concurrency: 3);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains("allows 1 pooled connections", StringComparison.Ordinal)
            && f.Contains("can hold 9 at once: the relay 7 (4 settles at once", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("handlers 3 (the sum of the handlers' Concurrency) can hold 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_WithSharedDataSourceTooSmall_IsRefusedWithTheSum()
    {
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString("Maximum Pool Size=10"));
        using var host = Build(async (item, context, _) => await WriteEffectAsync(context, item.Body), "", concurrency: 4, dataSource: dataSource);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains("allows 10 connections", StringComparison.Ordinal) && f.Contains("can hold 13 at once", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WakeupSource_ListeningOnPoolOfOne_LeavesThePoolConnectionFreeAndStillWakes()
    {
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString("Maximum Pool Size=1;Timeout=2"));
        var source = new PostgreSqlWakeupSource(dataSource, new PostgreSqlOptions { Schema = Db.Schema }, TimeProvider.System);
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var listening = source.ListenAsync(() => woken.TrySetResult(), stop.Token);
        await TestEnvironment.WaitUntilAsync(async () => await ScalarAsync<long>(
            $"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN \"postbox.{Db.Schema}\"'") == 1, TimeSpan.FromSeconds(10), "the source listens");

        // The pool's only connection is still there for claims.
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var notify = new NpgsqlCommand($"SELECT pg_notify('postbox.{Db.Schema}', '')", connection))
        {
            await notify.ExecuteNonQueryAsync();
        }

        await woken.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await listening;
    }

    [Fact]
    public async Task Relay_WithSmallestPoolAllowedAndListening_Delivers()
    {
        using var host = Build(async (item, context, _) => await WriteEffectAsync(context, item.Body), ConnectionString("Maximum Pool Size=6;Timeout=5"),
            o => { o.Relay.MaxInFlightBatches = 1; o.Relay.PollInterval = TimeSpan.FromSeconds(30); }, listen: true);
        await host.StartAsync();
        await TestEnvironment.WaitUntilAsync(async () => await ScalarAsync<long>(
            $"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN \"postbox.{Db.Schema}\"'") == 1, TimeSpan.FromSeconds(10), "the relay listens");

        await EnqueueAsync(host, "one");

        // Woken by the notification (the poll interval is 30 s), on pools of exactly what the relay and the inbox (6) and
        // the handler (1) need: the LISTEN connection is not one of them.
        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync() == 1, TimeSpan.FromSeconds(15), "the message was handled");
        await host.StopAsync();
    }

    [Fact]
    public async Task Relay_PoolExhaustedForAWhile_LogsItOnceAndRecovers()
    {
        // Exactly what the relay (4), the inbox (2) and one handler (1) need.
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString("Maximum Pool Size=7;Timeout=1"));
        using var host = Build(async (item, context, _) => await WriteEffectAsync(context, item.Body), "", o => { o.Relay.MaxInFlightBatches = 1; },
            dataSource: dataSource);
        await host.StartAsync();

        // The application shares the data source and takes every connection for a while.
        var held = new List<NpgsqlConnection>();
        for (var i = 0; i < 7; i++)
        {
            held.Add(await dataSource.OpenConnectionAsync());
        }

        await Db.ExecuteAsync("SELECT 1");
        var id = Guid.Empty;
        await using (var connection = await Db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var message = OutboxMessage.FromJson("work", new WorkItem("x"));
            id = message.Id;
            await host.Services.GetRequiredService<IOutbox>().EnqueueAsync(transaction, [message]);
            await transaction.CommitAsync();
        }

        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(_logs.Count(1002) + _logs.Count(1090) >= 3), TimeSpan.FromSeconds(30), "several claims failed");
        foreach (var connection in held)
        {
            await connection.DisposeAsync();
        }

        await TestEnvironment.WaitUntilAsync(async () => await Db.EffectsAsync(id) == 1, TimeSpan.FromSeconds(20), "the message was handled after the pool freed up");
        await host.StopAsync();

        var warning = Assert.Single(_logs.Entries, e => e.EventId == 1002);
        // An expected failure: one line naming the cause, no stack trace.
        Assert.Contains("connection pool has been exhausted", warning.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Null(warning.Exception);
        Assert.Single(_logs.Entries, e => e.EventId == 1091);
    }

    [Theory]
    [InlineData("idle_in_transaction_session_timeout", "Options=-c idle_in_transaction_session_timeout=1000", false)]
    [InlineData("statement_timeout", "Options=-c statement_timeout=1000", true)]
    public async Task Handler_OutlivedByServerTimeout_ErrorNamesTheSettingAndTheTime(string setting, string options, bool slowStatement)
    {
        var outside = 0;
        using var host = Build(async (item, context, cancellationToken) =>
        {
            await WriteEffectAsync(context, item.Body);
            Interlocked.Increment(ref outside);
            if (slowStatement)
            {
                await ExecuteAsync(context, "SELECT pg_sleep(2.5)");
            }
            else
            {
                await Task.Delay(TimeSpan.FromSeconds(2.5), cancellationToken); // A call to another service, say.
            }
        }, ConnectionString(options), maxAttempts: 1);
        await host.StartAsync();

        var id = await EnqueueAsync(host, "slow");

        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(id, ConsumerHost.Consumer))?.State == InboxState.Dead,
            TimeSpan.FromSeconds(30), "the message is dead");
        await host.StopAsync();
        var error = Assert.Single((await Db.EntryAsync(id, ConsumerHost.Consumer))!.Errors).Error;
        Assert.Contains($"PostgreSQL's {setting} (1s)", error, StringComparison.Ordinal);
        Assert.Contains("the inbox transaction had been open for", error, StringComparison.Ordinal);
        Assert.Equal(0L, await Db.EffectsAsync());
        Assert.Equal(1, outside);
    }

    [Fact]
    public async Task Handler_CommittingTheInboxTransactionItself_IsRefusedWithoutRetryOrMisleadingLog()
    {
        var runs = 0;
        using var host = Build(async (item, context, _) =>
        {
            Interlocked.Increment(ref runs);
            await WriteEffectAsync(context, item.Body);
            await context.Transaction.CommitAsync(CancellationToken.None);
        }, TestEnvironment.PostgresConnectionString);
        await host.StartAsync();

        var id = await EnqueueAsync(host, "self-commit");

        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(_logs.Count(5090) == 1), TimeSpan.FromSeconds(20), "the refusal was logged");
        await Task.Delay(500); // Long enough for a retry (100 ms) to show, were one scheduled.
        await host.StopAsync();

        Assert.Equal(1, runs);
        Assert.Equal(0, _logs.Count(5002)); // No "next attempt at" for an attempt that has none.
        var refusal = Assert.Single(_logs.Entries, e => e.EventId == 5090);
        Assert.IsType<HandlerMisuseException>(refusal.Exception);
        Assert.Contains("committed, rolled back or disposed the inbox transaction", refusal.Exception!.Message, StringComparison.Ordinal);
        // Its work committed with the inbox row: processed once.
        Assert.Equal(InboxState.Processed, (await Db.EntryAsync(id, ConsumerHost.Consumer))!.State);
        Assert.Equal(1L, await Db.EffectsAsync(id));
    }

    [Fact]
    public async Task Handler_RollingBackTheInboxTransactionItself_IsDeadLetteredNamingTheMistake()
    {
        var runs = 0;
        using var host = Build(async (item, context, _) =>
        {
            Interlocked.Increment(ref runs);
            await WriteEffectAsync(context, item.Body);
            await context.Transaction.RollbackAsync(CancellationToken.None);
        }, TestEnvironment.PostgresConnectionString);
        await host.StartAsync();

        var id = await EnqueueAsync(host, "self-rollback");

        await TestEnvironment.WaitUntilAsync(async () => (await Db.EntryAsync(id, ConsumerHost.Consumer))?.State == InboxState.Dead,
            TimeSpan.FromSeconds(20), "the message is dead");
        await host.StopAsync();

        Assert.Equal(1, runs);
        var entry = (await Db.EntryAsync(id, ConsumerHost.Consumer))!;
        Assert.Contains("HandlerMisuseException", Assert.Single(entry.Errors).Error, StringComparison.Ordinal);
        Assert.Equal(0L, await Db.EffectsAsync(id));
    }
}
