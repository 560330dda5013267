using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.PostgreSql;
using Postbox.Retry;
using Postbox.Transport;

namespace Postbox.IntegrationTests.Relay;

/// <summary>
/// What a backed-off relay must still find at once: a message from another process (its NOTIFY), a message whose
/// NOTIFY was lost while LISTEN was down (the reconnect's wake-up), and, while LISTEN cannot come back, a message
/// committed meanwhile (the poll interval again). Each test lets the relay back off from a 10 ms poll towards a 1 h idle
/// poll: its waits double from the first claim (10 ms, 20 ms … 10.24 s, then 20.48 s from about 20.5 s to 41 s after
/// start), so at <see cref="BackedOff"/> it sits in a wait that ends about 15 s later, after <see cref="Found"/>.
/// A message found within <see cref="Found"/> was found by a wake-up or a poll at the poll interval, not by the back-off's
/// next claim. (The margins only matter in that direction: a relay that behaves finds the message within milliseconds.)
/// Each test has a database of its own, so that one can refuse new connections.
/// </summary>
public sealed class RelayIdleBackoffWakeupTests : IAsyncLifetime
{
    private static readonly TimeSpan BackedOff = TimeSpan.FromSeconds(24);
    private static readonly TimeSpan Found = TimeSpan.FromSeconds(12);
    private readonly PrivateDatabase _db = new("idlewake");

    public async Task InitializeAsync()
    {
        await _db.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await using (var allow = _db.Server.CreateCommand($"ALTER DATABASE {_db.Name} ALLOW_CONNECTIONS true"))
        {
            await allow.ExecuteNonQueryAsync();
        }

        await _db.DisposeAsync();
    }

    [Fact]
    public async Task WhileBackedOff_AMessageFromAnotherProcess_IsFoundByItsNotify()
    {
        using var relay = await StartBackedOffRelayAsync();

        // Another process's writer: its NOTIFY is the only way the relay can learn of the message before its next poll.
        var message = PostgresSchema.Message("nobody.listens");
        await _db.Schema.EnqueueAsync([message]);

        await Eventually.HoldsAsync(() => AttemptedAsync(message.Id), Found, "the backed-off relay tried the message that its NOTIFY announced");
        await relay.StopAsync();
    }

    [Fact]
    public async Task WhenTheListenConnectionIsKilled_AMessageWhoseNotifyWasLost_IsFoundWhenListenComesBack()
    {
        using var relay = await StartBackedOffRelayAsync();

        // A message that nobody announced (as one committed while the listener was gone), then the listener killed.
        var message = PostgresSchema.Message("nobody.listens");
        await EnqueueWithoutNotifyAsync(message);
        var listener = await ListenerPidAsync();
        await TerminateAsync(listener);

        await Eventually.HoldsAsync(() => AttemptedAsync(message.Id), Found, "the relay claimed again once LISTEN was back");
        Assert.NotEqual(listener, await ListenerPidAsync());
        await relay.StopAsync();
    }

    [Fact]
    public async Task WhileListenCannotReconnect_TheRelayPollsAtThePollInterval_SoOtherProcessesMessagesAreFound()
    {
        // Connections opened before the database refuses new ones: the relay's pool (a few more than it uses at once) and
        // the producer's connection. Only the listener, which must open a new session to come back, is then refused, as
        // when the server is at max_connections.
        await using (var warm = new AsyncDisposables())
        {
            for (var i = 0; i < 12; i++)
            {
                warm.Add(await _db.Schema.DataSource.OpenConnectionAsync());
            }
        }

        await using var producer = new NpgsqlConnection(_db.ConnectionString);
        await producer.OpenAsync();
        using var relay = await StartBackedOffRelayAsync();

        await ExecuteAsync($"ALTER DATABASE {_db.Name} ALLOW_CONNECTIONS false");
        await TerminateAsync(await ListenerPidAsync());
        // LISTEN is down and stays down; anything the loss itself triggered is over by now.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Null(await ListenerPidOrNullAsync());

        var message = PostgresSchema.Message("nobody.listens");
        await using (var transaction = await producer.BeginTransactionAsync())
        {
            await new PostgreSqlOutboxWriter(_db.Schema.Options).WriteAsync(transaction, [message], DateTimeOffset.UtcNow, CancellationToken.None);
            await transaction.CommitAsync();
        }

        await Eventually.HoldsAsync(() => AttemptedAsync(message.Id), Found,
            "the relay, with LISTEN down, polled at its poll interval (docs/operations.md: while LISTEN reconnects the wait stays at PollInterval)");
        await ExecuteAsync($"ALTER DATABASE {_db.Name} ALLOW_CONNECTIONS true");
        await relay.StopAsync();
    }

    /// <summary>
    /// A known limit, documented (docs/operations.md, "Wake-ups and idle cost"): a coalesced NOTIFY goes with the
    /// transaction that carried it, so when that one rolls back, the other's message has no wake-up and waits for the
    /// idle poll. Here the idle poll is 3 s instead of an hour: the message is found by it, so the bound holds.
    /// </summary>
    [Fact]
    public async Task WhileBackedOff_AMessageWhoseNotifyWasCoalescedIntoARolledBackTransaction_IsFoundByTheIdlePoll()
    {
        using var relay = await StartBackedOffRelayAsync(TimeSpan.FromSeconds(3));

        // One producer process, two transactions enqueueing within PostgreSqlOutboxWriter.NotifyInterval (5 ms): the first
        // carries the pg_notify, the second does not. The first rolls back (its batch is never run), the second commits.
        var message = PostgresSchema.Message("nobody.listens");
        IReadOnlyList<NpgsqlBatchCommand> second;
        do
        {
            var writer = new PostgreSqlOutboxWriter(_db.Schema.Options);
            var first = writer.CreateCommands([PostgresSchema.Message("rolled.back")], DateTimeOffset.UtcNow);
            Assert.Equal(2, first.Count);
            second = writer.CreateCommands([message], DateTimeOffset.UtcNow);
        }
        while (second.Count != 1);

        await using (var connection = await _db.Schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            batch.BatchCommands.Add(second[0]);
            await batch.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        }

        await Eventually.HoldsAsync(() => AttemptedAsync(message.Id), Found,
            "the relay found, at its 3 s idle poll, a committed message whose NOTIFY was coalesced into a rolled-back transaction");
        await relay.StopAsync();
    }

    [Fact]
    public async Task WhileBackedOff_ARetryScheduledAfterASlowFailedPublish_IsTriedAtThePollInterval()
    {
        // The first publish fails only after 24 s (a broker slow to refuse), the retry 200 ms later succeeds. Meanwhile
        // the claim loop, woken by the NOTIFY, backed off again (10 ms … 10.24 s, then a 20.48 s wait from about 21 s
        // to 41 s): the retry, due at about 24.2 s, must still be tried at the poll interval, not when that wait ends.
        var transport = new SlowFirstFailureTransport(TimeSpan.FromSeconds(24));
        using var relay = PostboxHost.Build(_db.Schema, transport: b => b.Services.Replace(ServiceDescriptor.Singleton<IOutboxTransport>(transport)), configure: o =>
        {
            o.Relay.PollInterval = TimeSpan.FromMilliseconds(10);
            o.Relay.IdlePollInterval = TimeSpan.FromHours(1);
            o.Relay.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(200));
            o.Relay.PublishTimeout = TimeSpan.FromSeconds(50);
            o.Relay.LeaseDuration = TimeSpan.FromSeconds(60);
        });
        await relay.StartAsync();
        await ListenerPidAsync();

        var message = PostgresSchema.Message("slow.to.refuse");
        await _db.Schema.EnqueueAsync([message]);
        await Eventually.HoldsAsync(async () => await _db.Schema.ScalarAsync<int>($"SELECT attempts FROM {{schema}}.outbox WHERE id = '{message.Id}'") == 1,
            TimeSpan.FromSeconds(60), "the first attempt failed and the retry is scheduled");

        await Eventually.HoldsAsync(async () => await _db.Schema.ScalarAsync<short>($"SELECT state FROM {{schema}}.outbox WHERE id = '{message.Id}'") == 1,
            Found, "the relay's own retry (200 ms) was tried at the poll interval although its loop had backed off before the publish failed");
        await relay.StopAsync();
    }

    private async Task<IHost> StartBackedOffRelayAsync(TimeSpan? idlePollInterval = null)
    {
        var relay = PostboxHost.Build(_db.Schema, configure: o =>
        {
            o.Relay.PollInterval = TimeSpan.FromMilliseconds(10);
            o.Relay.IdlePollInterval = idlePollInterval ?? TimeSpan.FromHours(1);
        });
        await relay.StartAsync();
        await ListenerPidAsync();
        await Task.Delay(BackedOff);
        return relay;
    }

    private async Task EnqueueWithoutNotifyAsync(OutboxMessage message)
    {
        await using var connection = await _db.Schema.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var writer = new PostgreSqlOutboxWriter(new PostgreSqlOptions { Schema = _db.Schema.Name, NotifyOnEnqueue = false });
        await writer.WriteAsync(transaction, [message], DateTimeOffset.UtcNow, CancellationToken.None);
        await transaction.CommitAsync();
    }

    private async Task<bool> AttemptedAsync(Guid id)
    {
        await using var command = _db.Schema.DataSource.CreateCommand($"SELECT attempts > 0 OR state = 1 FROM \"{_db.Schema.Name}\".outbox WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The relay's LISTEN session, waited for (at start-up and after a reconnect).</summary>
    private async Task<int> ListenerPidAsync()
    {
        int? pid = null;
        await Eventually.HoldsAsync(async () => (pid = await ListenerPidOrNullAsync()) is not null, TimeSpan.FromSeconds(20), "the relay LISTENs");
        return pid!.Value;
    }

    private async Task<int?> ListenerPidOrNullAsync()
    {
        await using var command = _db.Server.CreateCommand("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %'");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _db.Name });
        return await command.ExecuteScalarAsync() as int?;
    }

    private async Task TerminateAsync(int pid)
    {
        await using var command = _db.Server.CreateCommand("SELECT pg_terminate_backend($1)");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
        Assert.True((bool)(await command.ExecuteScalarAsync())!);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = _db.Server.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Refuses the first publish after a delay, accepts the rest (the in-memory transport fails at once).</summary>
    private sealed class SlowFirstFailureTransport(TimeSpan delay) : IOutboxTransport
    {
        private int _calls;

        public async ValueTask PublishAsync(OutboxEnvelope message, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                await Task.Delay(delay, cancellationToken);
                throw new TransportException("refused, slowly");
            }
        }
    }

    private sealed class AsyncDisposables : List<IAsyncDisposable>, IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (var item in this)
            {
                await item.DisposeAsync();
            }
        }
    }
}
