using System.Text.RegularExpressions;
using Npgsql;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// The production shape (api, relay, two workers as processes; RabbitMQ; aiosmtpd) on a private PostgreSQL cluster the
/// test restarts mid-drain. Every mail must reach the SMTP server exactly once (by <c>Message-ID</c>), none stuck.
/// </summary>
public sealed partial class FaultTests : IClassFixture<PrivatePostgresCluster>, IAsyncLifetime
{
    private const int Mails = 300;
    private readonly PrivatePostgresCluster _postgres;
    private readonly DistributedService _service;

    public FaultTests(PrivatePostgresCluster postgres)
    {
        _postgres = postgres;
        _service = new DistributedService(maxAttempts: 26, postgres: postgres.ConnectionString);
    }

    public Task InitializeAsync() => _service.StartAsync();

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task Distributed_PostgresRestartMidDrain_NoMailLostNoneSentTwiceNoneStuck()
    {
        var second = _service.Track(_service.StartWorker());
        await second.WaitForLineAsync("subscribed to mail.send", TimeSpan.FromSeconds(60));

        var ids = new List<Guid>();
        using (var gate = new SemaphoreSlim(16))
        {
            var sends = Enumerable.Range(0, Mails).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    return await _service.SendMailAsync($"Restart {i}");
                }
                finally
                {
                    gate.Release();
                }
            });
            ids.AddRange(await Task.WhenAll(sends));
        }

        // Every role names its connections (pg_stat_activity.application_name); the api's pool holds one after the sends.
        var names = await ApplicationNamesAsync();
        Assert.Contains("postbox-api", names);
        Assert.Contains("postbox-relay", names);
        Assert.Contains("postbox-worker", names);

        // Mid-drain: some mails out, most still to go.
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(_service.Smtp.Mails().Count >= 20), TimeSpan.FromSeconds(120), "the drain to start");
        var before = _service.Smtp.Mails().Count;
        await _postgres.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(10));
        await _postgres.StartAsync();
        Assert.True(before < Mails, $"the drain ended ({before} mails) before PostgreSQL stopped: the test proves nothing");

        await TestEnvironment.WaitUntilAsync(async () => await CountFinalAsync() == Mails, TimeSpan.FromMinutes(4),
            $"every delivery to be final. Worker 1:\n{Tail(_service.Worker.Output)}\nWorker 2:\n{Tail(second.Output)}");

        var received = _service.Smtp.Mails().Select(MessageIdOf).ToList();
        var duplicated = received.GroupBy(m => m).Where(g => g.Count() > 1).Select(g => $"{g.Key} x{g.Count()}").ToList();
        var missing = ids.Select(id => $"<mail.{id:N}@postbox.local>").Except(received).ToList();
        Assert.True(duplicated.Count == 0, $"sent twice: {string.Join(", ", duplicated)}");
        Assert.True(missing.Count == 0, $"never sent: {string.Join(", ", missing)}");
        Assert.Equal(Mails, (int)await _service.ScalarAsync<long>("SELECT count(*) FROM {schema}.mail_deliveries WHERE status = 'sent'"));
    }

    [Fact]
    public async Task Distributed_SmtpServerDown_LogsStayBoundedAndCarryNoStackTrace()
    {
        await _service.Smtp.StopAsync();
        var started = _service.Worker.Output.Split('\n').Length;
        var ids = new List<Guid>();
        for (var i = 0; i < 60; i++)
        {
            ids.Add(await _service.SendMailAsync($"Outage {i}"));
        }

        // Let the outage last long enough for many failed attempts (retry delay 300 ms, 60 mails, concurrency 12).
        await TestEnvironment.WaitUntilAsync(async () => await _service.ScalarAsync<long>("SELECT count(*) FROM {schema}.mail_delivery_errors") >= 600,
            TimeSpan.FromMinutes(2), "600 failed attempts");
        var attempts = await _service.ScalarAsync<long>("SELECT count(*) FROM {schema}.mail_delivery_errors");
        var lines = _service.Worker.Output.Split('\n').Skip(started).ToList();
        await _service.Smtp.StartAsync();
        await TestEnvironment.WaitUntilAsync(async () => await CountFinalAsync() == ids.Count, TimeSpan.FromMinutes(2), "every mail to be sent");
        // The failures beyond the first few of each 10 s window are summarised in one line.
        await _service.Worker.WaitForLineAsync("attempts failed in the last", TimeSpan.FromSeconds(30));

        var all = _service.Worker.Output.Split('\n').Skip(started).ToList();
        Assert.DoesNotContain(all, l => StackFrame().IsMatch(l));
        // Without the limit, each failed attempt wrote warnings with stack traces: many lines per attempt.
        Assert.True(lines.Count < attempts / 4, $"{lines.Count} log lines for {attempts} failed attempts:\n{Tail(string.Join('\n', lines))}");
    }

    private async Task<List<string>> ApplicationNamesAsync()
    {
        await using var dataSource = NpgsqlDataSource.Create(_postgres.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name LIKE 'postbox-%'");
        await using var reader = await command.ExecuteReaderAsync();
        var names = new List<string>();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private async Task<long> CountFinalAsync()
    {
        try
        {
            return await _service.ScalarAsync<long>("SELECT count(*) FROM {schema}.mail_deliveries WHERE status IN ('sent', 'failed')");
        }
        catch (NpgsqlException)
        {
            return -1; // Still starting up.
        }
    }

    private static string MessageIdOf(string mail) => MessageIdHeader().Match(mail) is { Success: true } m ? m.Groups[1].Value : "(none)";

    private static string Tail(string output) => output.Length > 6000 ? output[^6000..] : output;

    [GeneratedRegex(@"^Message-ID: (\S+)", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex MessageIdHeader();

    [GeneratedRegex(@"^\s+at \S+\(")]
    private static partial Regex StackFrame();
}
