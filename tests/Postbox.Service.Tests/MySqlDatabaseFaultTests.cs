using MySqlConnector;
using Postbox.Service.Http;

namespace Postbox.Service.Tests;

/// <summary>
/// REVIEW (rev branch): the service runs on MySQL/MariaDB too (--mysql), but the API's fault handling only knows
/// PostgreSQL and SQLite errors: a MariaDB that cannot be reached must be a 503 (unavailable), not a 500 with a stack trace.
/// </summary>
public sealed class MySqlDatabaseFaultTests
{
    [Fact]
    public async Task MySqlServerUnreachable_IsUnavailable()
    {
        // Nothing listens on port 1: the connection is refused at once.
        await using var connection = new MySqlConnection("Server=127.0.0.1;Port=1;User ID=postbox;Password=postbox;Connection Timeout=5");
        var error = await Assert.ThrowsAsync<MySqlException>(() => connection.OpenAsync());
        Assert.True(DatabaseFaults.IsUnavailable(error), $"not seen as unavailable: {error.ErrorCode} {error.Message}");
    }
}
