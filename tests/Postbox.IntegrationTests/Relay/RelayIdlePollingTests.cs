using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.Retry;

namespace Postbox.IntegrationTests.Relay;

/// <summary>
/// The idle back-off measured where it matters, in PostgreSQL's own count of the relay's transactions
/// (<c>pg_stat_database.xact_commit</c> of a database of the test's own). The relay polls every 100 ms, so without the
/// back-off it would commit about 100 claims in each 10 s window (about 200 transactions: the test's data source resets
/// each connection on reuse, a transaction of its own), with it a handful; the thresholds sit far from both outcomes.
/// </summary>
public sealed class RelayIdlePollingTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private readonly PrivateDatabase _db = new("idlepoll");

    public async Task InitializeAsync()
    {
        await _db.InitializeAsync();
        // Autovacuum's visits are transactions of this database too, not the relay's: off for the outbox, and nothing
        // left to do in the catalogs that the migrations changed (a worker's visit to them is a transaction per table).
        await _db.Schema.ExecuteAsync("ALTER TABLE {schema}.outbox SET (autovacuum_enabled = false)");
        await _db.Schema.ExecuteAsync("VACUUM (ANALYZE)");
        // A backend reports its counts when it ends, or up to 10 s after it goes idle: close the connections that ran the
        // migrations and the VACUUM (a transaction per table), so their counts land now and not in a measured window.
        _db.Schema.DataSource.Clear();
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task WhileListening_AnIdleRelayBacksOff_ButItsOwnPendingRetryKeepsThePollInterval()
    {
        using var relay = PostboxHost.Build(_db.Schema, configure: o =>
        {
            o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
            o.Relay.IdlePollInterval = TimeSpan.FromHours(1);
            o.Relay.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMinutes(5));
        });
        await relay.StartAsync();
        // Statistics reach pg_stat_database up to 10 s late (an idle backend's flush interval): start-up first.
        await Task.Delay(TimeSpan.FromSeconds(12));

        var idle = await CommitsOverAsync(Window);

        // A message nobody subscribed to: the in-memory transport refuses it, so the relay schedules a retry 5 min out.
        var outbox = relay.Services.GetRequiredService<IOutbox>();
        await using (var connection = await _db.Schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await outbox.EnqueueAsync(transaction, PostgresSchema.Message("nobody.listens"));
            await transaction.CommitAsync();
        }

        await Eventually.HoldsAsync(async () => await _db.Schema.ScalarAsync<int>("SELECT attempts FROM {schema}.outbox") == 1,
            TimeSpan.FromSeconds(30), "the first attempt failed and a retry is scheduled");
        // Past the wake-up's burst of claims and this test's own polling, whose statistics may arrive late; untracked,
        // the relay's back-off would have grown past 6 s by the window's start.
        await Task.Delay(TimeSpan.FromSeconds(12));
        var retryPending = await CommitsOverAsync(Window);
        await relay.StopAsync();
        output.WriteLine($"idle {idle}, retry pending {retryPending} transactions per {Window}");

        Assert.True(idle < 60, $"{idle} transactions in {Window} of idling: the relay did not back off (about 100 at a constant 100 ms poll).");
        Assert.True(retryPending > 80, $"{retryPending} transactions in {Window} with the relay's own retry pending: it backed off (about 100 expected at the 100 ms poll).");
    }

    [Fact]
    public async Task WithoutListening_TheRelayKeepsPolling_SoOtherProcessesMessagesAreFound()
    {
        using var relay = PostboxHost.Build(_db.Schema, configure: o =>
        {
            o.Relay.PollInterval = TimeSpan.FromMilliseconds(100);
            o.Relay.IdlePollInterval = TimeSpan.FromHours(1);
        }, services: s => s.Configure<Postbox.PostgreSql.PostgreSqlOptions>(o => o.ListenForNotifications = false));
        await relay.StartAsync();
        await Task.Delay(TimeSpan.FromSeconds(12));

        var idle = await CommitsOverAsync(Window);
        await relay.StopAsync();

        Assert.True(idle > 80, $"{idle} transactions in {Window}: without LISTEN the relay backed off (about 100 expected at the 100 ms poll).");
    }

    private async Task<long> CommitsOverAsync(TimeSpan window)
    {
        var before = await CommitsAsync();
        await Task.Delay(window);
        return await CommitsAsync() - before;
    }

    private async Task<long> CommitsAsync()
    {
        await using var command = _db.Server.CreateCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _db.Name });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
