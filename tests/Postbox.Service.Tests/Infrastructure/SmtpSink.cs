using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>
/// A real SMTP server: Debian's aiosmtpd on a free 127.0.0.1 port with <c>smtp/mail_sink.py</c>, which saves each mail
/// as a file and can answer an error on demand. Stopping it is how the tests simulate the mail server being down.
/// </summary>
public sealed class SmtpSink : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    public SmtpSink()
        : this(null, null)
    {
    }

    /// <summary>With a user and password: the server requires authentication (AUTH PLAIN/LOGIN, no TLS on loopback), see <c>smtp/auth_server.py</c>.</summary>
    public SmtpSink(string? user, string? password)
    {
        Folder = TestEnvironment.TempFolder("smtp");
        Port = TestEnvironment.FreePort();
        (_user, _password) = (user, password);
    }

    private readonly string? _user;
    private readonly string? _password;

    public string Folder { get; }

    public int Port { get; }

    public string Output => string.Join('\n', _output);

    public async Task StartAsync()
    {
        var arguments = _user is null ? $"-m aiosmtpd -n -l 127.0.0.1:{Port} -c mail_sink.Handler" : $"-m auth_server 127.0.0.1 {Port}";
        var start = new ProcessStartInfo("/usr/bin/python3", arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["PYTHONPATH"] = Path.Combine(AppContext.BaseDirectory, "smtp");
        start.Environment["PYTHONUNBUFFERED"] = "1";
        start.Environment["MAIL_SINK_DIR"] = Folder;
        if (_user is not null)
        {
            start.Environment["SMTP_AUTH_USER"] = _user;
            start.Environment["SMTP_AUTH_PASSWORD"] = _password ?? string.Empty;
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await TestEnvironment.WaitUntilAsync(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"aiosmtpd exited: {Output}");
            }

            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync("127.0.0.1", Port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), "aiosmtpd to listen");
    }

    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>The mails received, as text.</summary>
    public IReadOnlyList<string> Mails() =>
        [.. Directory.GetFiles(Folder, "*.eml").Select(File.ReadAllText)];

    public int CountWithMessageId(string messageId) => Mails().Count(m => m.Contains($"Message-ID: {messageId}", StringComparison.OrdinalIgnoreCase));

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(Folder, recursive: true);
    }
}
