using System.Data.Common;
using MySqlConnector;
using Microsoft.Extensions.DependencyInjection;
using Postbox.Hosting;
using Postbox.IntegrationTests.Infrastructure;
using Postbox.MySql;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

public sealed class MySqlStoreConformanceTests : OutboxStoreConformanceTests, IAsyncLifetime
{
    private readonly MySqlDatabase _database = new();

    protected override IOutboxStore Store => _database.Store;

    protected override IOutboxMonitor Monitor => new MySqlOutboxMonitor(_database.DataSource, _database.Options);

    protected override Postbox.Monitoring.IPostboxPauses Pauses => new Postbox.MySql.Monitoring.MySqlPostboxPauses(_database.DataSource, _database.Options);

    public Task InitializeAsync() => _database.InitializeAsync();

    public Task DisposeAsync() => _database.DisposeAsync();

    protected override string BusinessTable => "business";

    protected override void UseStore(PostboxBuilder postbox) => postbox.UseMySql(_database.ConnectionString);

    protected override async Task<DbConnection> OpenConnectionAsync() => await _database.DataSource.OpenConnectionAsync();

    protected override Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages, DateTimeOffset now) => _database.EnqueueAsync(messages, now);

    protected override async Task<(int State, int Attempts, string? LastError)?> GetRowAsync(Guid id)
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        await using var command = new MySqlCommand("SELECT state, attempts, last_error FROM postbox_outbox WHERE id = @id", connection);
        command.Parameters.AddWithValue("@id", id.ToByteArray(bigEndian: true));
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt32(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2)) : null;
    }

    protected override Task<long> CountAsync() => _database.ScalarAsync<long>("SELECT count(*) FROM postbox_outbox");

    [Fact(Skip = "MySQL/MariaDB have no cross-process wake-up source (no LISTEN/NOTIFY): a relay finds another process's messages by polling, and its own process's by the in-process signal.")]
    public override Task WakeupSource_AnEnqueueCommittedElsewhere_WakesAWaitingRelay() => Task.CompletedTask;
}
