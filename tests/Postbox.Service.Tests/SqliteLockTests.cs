using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// The SQLite file's write lock held by someone else (a backup, a migration, an operator's sqlite3 session) is SQLite's
/// outage: the API answers <c>503</c> with <c>Retry-After</c> once its busy timeout passed instead of a late <c>202</c>,
/// and the relay and the consumers log it as an expected failure, one line without a stack trace.
/// </summary>
public sealed class SqliteLockTests
{
    private static readonly object Mail = new { from = "from@example.com", to = new[] { "to@example.com" }, subject = "locked", content = "c" };

    [Fact]
    public async Task Api_OnSqlite_FileLockedPastBusyTimeout_503WithRetryAfter_ThenAccepted()
    {
        await using var service = await ServiceOnSqlite.StartAsync();

        // Held 15 s: longer than the service's busy timeout (5 s), shorter than Microsoft.Data.Sqlite's default (30 s).
        // Without a bound of its own the request waits for the lock and answers 202 once it is released.
        var holder = await LockAsync(service.DatabasePath);
        var release = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(15));
            await holder.DisposeAsync();
        });
        using (var locked = await service.Client.PostAsJsonAsync("/api/mail/send", Mail))
        {
            var body = await locked.Content.ReadAsStringAsync();
            Assert.True(locked.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)locked.StatusCode} {body}\n{service.Process.Output}");
            Assert.NotNull(locked.Headers.RetryAfter);
            Assert.Equal("application/problem+json", locked.Content.Headers.ContentType?.MediaType);
        }

        await release;
        using var after = await service.Client.PostAsJsonAsync("/api/mail/send", Mail);
        Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
        Assert.Empty(service.ErrorLines());
        AssertNoStackTrace(service);
    }

    [Fact]
    public async Task RelayAndConsumers_OnSqlite_FileLocked_OneLineNoStackTrace_ThenDelivered()
    {
        // A one-second busy timeout, so the relay's claims and the retry scheduler's polls fail while the lock is held.
        await using var service = await ServiceOnSqlite.StartAsync(connectionOptions: "Default Timeout=1");

        await using (var holder = await LockAsync(service.DatabasePath))
        {
            await TestEnvironment.WaitUntilAsync(() => Task.FromResult(service.Process.CountLines("[1002]") > 0), TimeSpan.FromSeconds(30),
                $"the relay to log a failed claim. Service:\n{service.Process.Output}");
            await Task.Delay(TimeSpan.FromSeconds(3)); // more failed claims and retry polls
        }

        using var response = await service.Client.PostAsJsonAsync("/api/mail/send", Mail);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await TestEnvironment.WaitUntilAsync(async () =>
            (await service.Client.GetFromJsonAsync<JsonElement>($"/api/mail/{id}")).GetProperty("status").GetString() == "sent",
            TimeSpan.FromSeconds(60), $"mail {id} to be sent after the lock. Service:\n{service.Process.Output}");

        AssertNoStackTrace(service);
        Assert.Empty(service.ErrorLines());
        var claimFailed = service.Process.Output.Split('\n').SkipWhile(l => !l.Contains("[1002]", StringComparison.Ordinal)).Skip(1).First();
        Assert.Contains("SQLite", claimFailed, StringComparison.Ordinal);
    }

    private static void AssertNoStackTrace(ServiceOnSqlite service) =>
        Assert.False(service.Process.Output.Split('\n').Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)),
            "stack trace in the log:\n" + service.Process.Output);

    /// <summary>Takes the file's write lock (BEGIN IMMEDIATE) on a connection of its own, held until it is disposed.</summary>
    private static async Task<SqliteConnection> LockAsync(string path)
    {
        var connection = new SqliteConnection(string.Create(CultureInfo.InvariantCulture, $"Data Source={path};Pooling=False"));
        await connection.OpenAsync();
        await using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE;";
        await begin.ExecuteNonQueryAsync();
        return connection;
    }
}
