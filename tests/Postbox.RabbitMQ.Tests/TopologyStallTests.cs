using System.Net;
using System.Net.Sockets;
using Postbox.RabbitMQ.Tests.Infrastructure;
using Postbox.Transport;

namespace Postbox.RabbitMQ.Tests;

/// <summary>
/// REVIEW (rev branch): a broker that stops answering while a new topic's queue is declared. The connection stays open
/// (a TCP proxy holds the bytes), so only time-outs can tell. Declaring is not publishing (issue 15 item 6): the message
/// must be released unattempted whichever time-out fires first, the publish's or the client's own continuation time-out
/// (<see cref="RabbitMQTransportOptions.ConnectionTimeout"/>, 5 s by default, shorter than the relay's 30 s publish timeout).
/// </summary>
public sealed class TopologyStallTests
{
    [Fact]
    public async Task Publish_WhenTheQueueDeclarationHitsTheClientsContinuationTimeout_IsUnavailableNotAFailedAttempt()
    {
        var exchange = RabbitMQBroker.UniqueName("sx");
        var prefix = RabbitMQBroker.UniqueName("sq") + ".";
        var broker = new Uri(RabbitMQBroker.Uri);
        await using var proxy = await StallingProxy.StartAsync(broker.Host, broker.Port);
        var viaProxy = new UriBuilder(broker) { Host = "127.0.0.1", Port = proxy.Port }.Uri.ToString();
        try
        {
            await using var transport = RabbitMQBroker.CreateTransport(o =>
                (o.ConnectionString, o.ExchangeName, o.QueuePrefix, o.ConnectionTimeout) = (viaProxy, exchange, prefix, TimeSpan.FromSeconds(1)));
            await transport.PublishAsync(RabbitMQBroker.Envelope("warm"), CancellationToken.None);

            proxy.Stall();
            // A publish timeout far longer than the client's continuation time-out: the declaration's own time-out fires first.
            using var publishTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var error = await Record.ExceptionAsync(() => transport.PublishAsync(RabbitMQBroker.Envelope("fresh"), publishTimeout.Token).AsTask());
            Assert.False(publishTimeout.IsCancellationRequested, "the publish timeout fired first; the test did not reach the client's time-out");
            Assert.NotNull(error);
            Assert.True(error is TransportUnavailableException { BeforePublish: true },
                $"A declaration the broker did not answer charged the message an attempt, or made it a suspect: {error.GetType().Name}: {error.Message}");
        }
        finally
        {
            proxy.Resume();
            await RabbitMQBroker.DeleteAsync(exchange, prefix + "warm", prefix + "fresh");
        }
    }

    /// <summary>
    /// REVIEW: the permanent declaration failure (a queue of that name exists with other arguments, PRECONDITION_FAILED)
    /// must stay a failure of the message (charged, so it reaches dead after its attempts), not "unavailable" (retried
    /// forever without an attempt), also now that time-outs of declarations are "unavailable".
    /// </summary>
    [Fact]
    public async Task Publish_WhenTheQueueExistsWithOtherArguments_IsAFailedAttemptNotUnavailable()
    {
        var exchange = RabbitMQBroker.UniqueName("sx");
        var prefix = RabbitMQBroker.UniqueName("sq") + ".";
        try
        {
            await using (var connection = await RabbitMQBroker.ConnectAsync())
            await using (var channel = await connection.CreateChannelAsync())
            {
                await channel.QueueDeclareAsync(prefix + "taken", durable: true, exclusive: false, autoDelete: false,
                    arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
            }

            await using var transport = RabbitMQBroker.CreateTransport(o => (o.ExchangeName, o.QueuePrefix) = (exchange, prefix));
            // Preparing reports the failure (the relay logs it and publishes anyway); it must not call the broker unavailable.
            var prepared = await Record.ExceptionAsync(() => transport.PrepareAsync(["taken"], CancellationToken.None).AsTask());
            Assert.False(prepared is TransportUnavailableException, prepared?.Message);
            for (var i = 0; i < 2; i++)
            {
                var error = await Assert.ThrowsAnyAsync<TransportException>(() => transport.PublishAsync(RabbitMQBroker.Envelope("taken"), CancellationToken.None).AsTask());
                Assert.False(error is TransportUnavailableException, error.Message);
                Assert.Contains("PRECONDITION_FAILED", error.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            await RabbitMQBroker.DeleteAsync(exchange, prefix + "taken");
        }
    }

    /// <summary>Forwards TCP to the broker; <see cref="Stall"/> holds every byte (both ways) without closing anything.</summary>
    private sealed class StallingProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<TcpClient> _clients = [];
        private volatile TaskCompletionSource _open = Opened();
        private string _host = "";
        private int _port;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static Task<StallingProxy> StartAsync(string host, int port)
        {
            var proxy = new StallingProxy { _host = host, _port = port };
            proxy._listener.Start();
            _ = proxy.AcceptAsync();
            return Task.FromResult(proxy);
        }

        public void Stall() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Resume() => _open.TrySetResult();

        private static TaskCompletionSource Opened()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var upstream = new TcpClient();
                    await upstream.ConnectAsync(_host, _port, _stop.Token);
                    lock (_clients)
                    {
                        _clients.Add(client);
                        _clients.Add(upstream);
                    }

                    _ = PumpAsync(client.GetStream(), upstream.GetStream());
                    _ = PumpAsync(upstream.GetStream(), client.GetStream());
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
        }

        private async Task PumpAsync(Stream from, Stream to)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    await _open.Task.WaitAsync(_stop.Token);
                    await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
            {
                // Either side closed: so does the other, as a real connection would.
                to.Close();
            }
        }

        public async ValueTask DisposeAsync()
        {
            Resume();
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_clients)
            {
                foreach (var client in _clients)
                {
                    client.Dispose();
                }
            }

            _stop.Dispose();
        }
    }
}
