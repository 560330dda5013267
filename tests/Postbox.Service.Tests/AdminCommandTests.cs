using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// The <c>admin</c> command as an operator without a browser uses it: a real service process on SQLite sends mail to a
/// real SMTP server that is down, the mail runs out of attempts into the inbox's dead letters, and <c>admin</c> (its
/// own process, on the same database) lists it, shows its errors and replays it once the server is back.
/// </summary>
public sealed class AdminCommandTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Admin_ReplayOfADeadMail_TheWorkerSendsIt_ASecondReplayFindsNothingDead()
    {
        await using var smtp = new SmtpSink(); // not started yet: every attempt is refused
        await using var service = await StartAsync(smtp);
        var id = await SendMailAsync(service, "replayed by admin");
        await WaitForStatusAsync(service, id, "failed");
        var database = Database(service);

        var (exit, output) = await AdminAsync("list", database);
        Assert.True(exit == 0, output);
        Assert.Contains("mail-sender", output, StringComparison.Ordinal);
        var messageId = SingleDeadMessageId(output);

        (exit, output) = await AdminAsync("show", messageId, database);
        Assert.True(exit == 0, output);
        Assert.Contains("dead", output, StringComparison.Ordinal);
        // The error history, and the payload (the delivery's id, as indented JSON).
        Assert.Contains("refused", output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(id.ToString(), output, StringComparison.OrdinalIgnoreCase);

        await smtp.StartAsync();
        (exit, output) = await AdminAsync("replay", messageId, database);
        Assert.True(exit == 0, output);
        Assert.Contains("replayed", output, StringComparison.Ordinal);
        await WaitForStatusAsync(service, id, "sent");
        Assert.Single(smtp.Mails(), m => m.Contains("replayed by admin", StringComparison.Ordinal));

        // Handled now: nothing dead to replay; a script learns it from the exit code.
        (exit, output) = await AdminAsync("replay", messageId, database);
        Assert.True(exit == 3, output);
        Assert.Contains("done", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_ReplayAll_ReplaysEveryDeadLetterOfTheConsumer_AndTheyAreSent()
    {
        await using var smtp = new SmtpSink();
        await using var service = await StartAsync(smtp);
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await SendMailAsync(service, $"mail {i}"));
        }

        foreach (var id in ids)
        {
            await WaitForStatusAsync(service, id, "failed");
        }

        await smtp.StartAsync();
        var (exit, output) = await AdminAsync("replay", "--all", "--consumer", "mail-sender", Database(service));
        Assert.True(exit == 0, output);
        Assert.Contains("Inbox: 3 dead letter(s) replayed", output, StringComparison.Ordinal);
        foreach (var id in ids)
        {
            await WaitForStatusAsync(service, id, "sent");
        }

        // Nothing left: --all with nothing to do is not a failure (it can run from a schedule).
        (exit, output) = await AdminAsync("replay", "--all", Database(service));
        Assert.True(exit == 0, output);
        Assert.Contains("Replayed 0 in all", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_ExitCodes_TellScriptsWhatHappened()
    {
        var folder = TestEnvironment.TempFolder("admin-exit");
        var database = $"--sqlite=Data Source={Path.Combine(folder, "service.db")}";
        await using (var migrate = ServiceProcess.Start("migrate", [database]))
        {
            Assert.Equal(0, await migrate.WaitForExitAsync(Wait));
        }

        var unknown = Guid.NewGuid().ToString();
        Assert.Equal(3, (await AdminAsync("replay", unknown, database)).Exit);
        Assert.Equal(3, (await AdminAsync("show", unknown, database)).Exit);
        Assert.Equal(3, (await AdminAsync("retry", unknown, "--side", "outbox", database)).Exit);
        // Wrong arguments: 1, with the reason.
        var (exit, output) = await AdminAsync("delete", unknown, database);
        Assert.True(exit == 1, output);
        Assert.Contains("--yes", output, StringComparison.Ordinal);
        (exit, output) = await AdminAsync("replay", unknown, "--all", database);
        Assert.True(exit == 1, output);
        Assert.Equal(1, (await AdminAsync("replay", database)).Exit);
        Assert.Equal(1, (await AdminAsync("show", "not-a-guid", database)).Exit);
        Assert.Equal(1, (await AdminAsync("list", "--limit", "0", database)).Exit);
        Assert.Equal(1, (await AdminAsync("list", "--state", "gone", database)).Exit);
        Assert.Equal(1, (await AdminAsync("list", "--limt=5", database)).Exit);
        // An empty store lists nothing, successfully.
        (exit, output) = await AdminAsync("list", "--side", "outbox", database);
        Assert.True(exit == 0, output);
        Assert.Contains("No messages.", output, StringComparison.Ordinal);
        Assert.DoesNotContain("DeliveredRetention", output, StringComparison.Ordinal);
        // An empty list of delivered messages says why: by default none are kept.
        (exit, output) = await AdminAsync("list", "--side", "outbox", "--state", "done", database);
        Assert.True(exit == 0, output);
        Assert.Contains("No messages.", output, StringComparison.Ordinal);
        Assert.Contains("Postbox:Relay:DeliveredRetention is above 0", output, StringComparison.Ordinal);
        (exit, output) = await AdminAsync("overview", database);
        Assert.True(exit == 0, output);
        Assert.Contains("nothing pending", output, StringComparison.Ordinal);

        // A store that is not there (a mistyped path): 4, one line, no stack trace, and nothing created there.
        foreach (var mistyped in new[] { Path.Combine(folder, "missing", "dir", "x.db"), Path.Combine(folder, "servce.db") })
        {
            (exit, output) = await AdminAsync("list", $"--sqlite=Data Source={mistyped}");
            Assert.True(exit == 4, output);
            Assert.Contains("There is no SQLite database at", output, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
            Assert.False(File.Exists(mistyped), mistyped);
        }

        Assert.False(Directory.Exists(Path.Combine(folder, "missing")));

        // A database without Postbox's tables: 4, with the hint to migrate.
        var empty = Path.Combine(folder, "empty.db");
        await File.WriteAllBytesAsync(empty, []);
        (exit, output) = await AdminAsync("list", $"--sqlite=Data Source={empty}");
        Assert.True(exit == 4, output);
        Assert.Contains("run 'migrate' first", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_ListWithAMalformedCursorOrLimit_IsAWrongArgument_NotAStackTrace()
    {
        var folder = TestEnvironment.TempFolder("admin-cursor");
        var database = $"--sqlite=Data Source={Path.Combine(folder, "service.db")}";
        await using (var migrate = ServiceProcess.Start("migrate", [database]))
        {
            Assert.Equal(0, await migrate.WaitForExitAsync(Wait));
        }

        // A typo, a cursor of another list (seq only on a time-ordered list, and the reverse), a number past long, and
        // ticks beyond the calendar: each is a wrong argument (1) with one line, never an unhandled exception.
        foreach (var (side, state, after) in new[]
        {
            ("inbox", "dead", "abc"), ("inbox", "dead", "12"), ("inbox", "dead", "-1.5"), ("inbox", "done", "99999999999999999999999.1"),
            ("inbox", "done", "9223372036854775807.1"), ("outbox", "scheduled", "12.5"), ("outbox", "dead", "1.2.3"), ("inbox", "dead", "1.2.3"),
        })
        {
            var (exit, output) = await AdminAsync("list", "--side", side, "--state", state, "--after", after, database);
            Assert.True(exit == 1, $"--side {side} --state {state} --after {after}: exit {exit}\n{output}");
            Assert.Contains("cursor", output, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        }

        // A page size that is no int at all: the parser's reason, exit 1, not an abort (134) with a stack trace.
        foreach (var limit in new[] { "99999999999", "abc", "-99999999999" })
        {
            var (exit, output) = await AdminAsync("list", "--limit", limit, database);
            Assert.True(exit == 1, $"--limit {limit}: exit {exit}\n{output}");
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Admin_ConsumerWithTheOutboxSide_IsAWrongArgument_NotANoOpOrAWiderList()
    {
        var folder = TestEnvironment.TempFolder("admin-outbox-consumer");
        var database = $"--sqlite=Data Source={Path.Combine(folder, "service.db")}";
        await using (var migrate = ServiceProcess.Start("migrate", [database]))
        {
            Assert.Equal(0, await migrate.WaitForExitAsync(Wait));
        }

        var id = Guid.NewGuid().ToString();
        foreach (var arguments in new[]
        {
            new[] { "replay", "--all", "--side", "outbox", "--consumer", "mail-sender" }, ["list", "--side", "outbox", "--consumer", "mail-sender"],
            ["show", id, "--side", "outbox", "--consumer", "mail-sender"], ["retry", id, "--side", "outbox", "--consumer", "mail-sender"],
            ["delete", id, "--side", "outbox", "--consumer", "mail-sender", "--yes"],
        })
        {
            var (exit, output) = await AdminAsync([.. arguments, database]);
            Assert.True(exit == 1, $"{string.Join(' ', arguments)}: exit {exit}\n{output}");
            Assert.Contains("outbox messages have no consumer", output, StringComparison.Ordinal);
        }

        // The neighbour: the same consumer on the inbox side is a filter.
        var (ok, text) = await AdminAsync("list", "--side", "inbox", "--consumer", "mail-sender", database);
        Assert.True(ok == 0, text);
    }

    [Fact]
    public async Task Admin_StrayWords_AreWrongArguments_NotSilentlyIgnored()
    {
        var folder = TestEnvironment.TempFolder("admin-stray");
        var database = $"--sqlite=Data Source={Path.Combine(folder, "service.db")}";
        await using (var migrate = ServiceProcess.Start("migrate", [database]))
        {
            Assert.Equal(0, await migrate.WaitForExitAsync(Wait));
        }

        // 'show' takes one id: a second one was dropped without a word, as was a state or side given as a word.
        var id = Guid.NewGuid().ToString();
        foreach (var arguments in new[] { new[] { "show", id, Guid.NewGuid().ToString() }, ["list", "scheduled"], ["overview", "outbox"], ["list", "--state", "dead", "x"] })
        {
            var (exit, output) = await AdminAsync([.. arguments, database]);
            Assert.True(exit == 1, $"{string.Join(' ', arguments)}: exit {exit}\n{output}");
            Assert.Contains("Unexpected argument", output, StringComparison.Ordinal);
        }

        // Settings in every form the configuration reads still pass, with their values.
        var (ok, text) = await AdminAsync("list", "--Logging:LogLevel:Default", "Error", "Logging:LogLevel:Microsoft=Error", database);
        Assert.True(ok == 0, text);
    }

    [Fact]
    public async Task Admin_CtrlCWhileTheStoreDoesNotAnswer_CancelsWithOneLine_Exit130()
    {
        // A server that accepts the connection and never answers: the command waits on the store until Ctrl+C.
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new System.Collections.Concurrent.ConcurrentQueue<System.Net.Sockets.TcpClient>();
        var acceptLoop = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    accepted.Enqueue(await silent.AcceptTcpClientAsync());
                }
            }
            catch (Exception ex) when (ex is ObjectDisposedException or System.Net.Sockets.SocketException)
            {
                // The listener stopped.
            }
        });
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var admin = ServiceProcess.StartInterruptible("admin",
            ["list", "--postgres", string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={port};Username=u;Password=p;Timeout=120;Command Timeout=120")]);
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(!accepted.IsEmpty), Wait, "the command to connect");
        await Task.Delay(TimeSpan.FromSeconds(1));
        using (var interrupt = System.Diagnostics.Process.Start("kill", $"-INT {admin.Id}")!)
        {
            await interrupt.WaitForExitAsync();
        }

        var exit = await admin.WaitForExitAsync(Wait);
        silent.Stop();
        await acceptLoop;
        foreach (var client in accepted)
        {
            client.Dispose();
        }

        Assert.True(exit == 130, admin.Output);
        Assert.Contains("Cancelled", admin.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", admin.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_PauseOfTheMailTopic_HoldsItsMailsBack_WhileWelcomeMailsFlow_ResumeSendsThem()
    {
        await using var smtp = new SmtpSink();
        await smtp.StartAsync();
        await using var service = await StartAsync(smtp);
        var database = Database(service);

        var (exit, output) = await AdminAsync("pause", "outbox", "mail.send", database);
        Assert.True(exit == 0, output);
        Assert.Contains("paused", output, StringComparison.Ordinal);
        (exit, output) = await AdminAsync("pause", "outbox", "mail.send", database);
        Assert.True(exit == 0, output);
        Assert.Contains("paused already", output, StringComparison.Ordinal);
        (exit, output) = await AdminAsync("paused", database);
        Assert.True(exit == 0, output);
        Assert.Contains("mail.send", output, StringComparison.Ordinal);
        Assert.Contains("admin (", output, StringComparison.Ordinal);

        var held = await SendMailAsync(service, "held by a pause");
        // The control: another topic (users.welcome, sent by its own handler) flows meanwhile.
        using (var register = await service.Client.PostAsJsonAsync("/api/v1/users", new { email = "paused-test@example.com", password = "correct horse battery" }))
        {
            Assert.True(register.IsSuccessStatusCode, await register.Content.ReadAsStringAsync());
        }

        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(smtp.Mails().Any(m => m.Contains("paused-test@example.com", StringComparison.Ordinal))),
            Wait, $"the welcome mail to be sent. Service:\n{service.Process.Output}");
        // Sent after the paused mail was enqueued: the relay has claimed past it, and held it.
        (exit, output) = await AdminAsync("overview", "--side", "outbox", database);
        Assert.True(exit == 0, output);
        Assert.Contains("Paused", output, StringComparison.Ordinal);
        Assert.DoesNotContain(smtp.Mails(), m => m.Contains("held by a pause", StringComparison.Ordinal));
        Assert.NotEqual("sent", (await service.Client.GetFromJsonAsync<JsonElement>($"/api/mail/{held}")).GetProperty("status").GetString());

        (exit, output) = await AdminAsync("resume", "outbox", "mail.send", database);
        Assert.True(exit == 0, output);
        Assert.Contains("resumed", output, StringComparison.Ordinal);
        await WaitForStatusAsync(service, held, "sent");
        Assert.Single(smtp.Mails(), m => m.Contains("held by a pause", StringComparison.Ordinal));

        // Not paused any more: resume says so with exit code 3; nothing is listed.
        (exit, output) = await AdminAsync("resume", "outbox", "mail.send", database);
        Assert.True(exit == 3, output);
        (exit, output) = await AdminAsync("paused", database);
        Assert.True(exit == 0, output);
        Assert.Contains("Nothing is paused", output, StringComparison.Ordinal);
        Assert.Equal(1, (await AdminAsync("pause", "sideways", "x", database)).Exit);
    }

    private static async Task<ServiceOnSqlite> StartAsync(SmtpSink smtp) =>
        await ServiceOnSqlite.StartAsync(
        [
            "--smtp-host", "127.0.0.1", "--smtp-port", smtp.Port.ToString(CultureInfo.InvariantCulture), "--max-attempts", "1",
        ]);

    private static string Database(ServiceOnSqlite service) => $"--sqlite=Data Source={service.DatabasePath}";

    private static async Task<Guid> SendMailAsync(ServiceOnSqlite service, string subject)
    {
        using var response = await service.Client.PostAsJsonAsync("/api/mail/send",
            new { from = "from@example.com", to = new[] { "to@example.com" }, subject, content = "c" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static Task WaitForStatusAsync(ServiceOnSqlite service, Guid id, string status) =>
        TestEnvironment.WaitUntilAsync(async () =>
        {
            var mail = await service.Client.GetFromJsonAsync<JsonElement>($"/api/mail/{id}");
            return mail.GetProperty("status").GetString() == status;
        }, Wait, $"mail {id} to be {status}. Service:\n{service.Process.Output}");

    /// <summary>The message id (first column) of the one row of <c>admin list</c>'s table.</summary>
    private static string SingleDeadMessageId(string output)
    {
        var rows = output.Split('\n').Where(l => l.Contains("mail-sender", StringComparison.Ordinal)).ToList();
        Assert.True(rows.Count == 1, output);
        var id = rows[0].Split(['│', '|', ' '], StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.True(Guid.TryParse(id, out _), output);
        return id;
    }

    private static async Task<(int Exit, string Output)> AdminAsync(params string[] arguments)
    {
        await using var process = ServiceProcess.Start("admin", arguments, new Dictionary<string, string> { ["COLUMNS"] = "200" });
        var exit = await process.WaitForExitAsync(Wait);
        return (exit, process.Output);
    }
}
