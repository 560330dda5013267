using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Postbox.RabbitMQ;
using RabbitMQ.Client;

namespace Postbox.RabbitMQ.Tests.Infrastructure;

/// <summary>The real broker the tests run against, and helpers to look at it with the raw client.</summary>
internal static class RabbitMQBroker
{
    public static string Uri { get; } =
        Environment.GetEnvironmentVariable("POSTBOX_TEST_RABBITMQ") is { Length: > 0 } uri ? uri : "amqp://guest:guest@127.0.0.1:5672/";

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static RabbitMQTransport CreateTransport(Action<RabbitMQTransportOptions> configure)
    {
        var options = new RabbitMQTransportOptions { ConnectionString = Uri, ClientProvidedName = "postbox-tests" };
        configure(options);
        return new RabbitMQTransport(Options.Create(options), NullLogger<RabbitMQTransport>.Instance, TimeProvider.System);
    }

    public static OutboxEnvelope Envelope(string topic, string? key = null, string body = "hello", IReadOnlyDictionary<string, string>? headers = null) =>
        new(Guid.CreateVersion7(), Sequence: 1, topic, key, Type: "test.message", System.Text.Encoding.UTF8.GetBytes(body),
            headers ?? new Dictionary<string, string>(), DateTimeOffset.UtcNow, Attempts: 0, MaxAttempts: null);

    public static Task<IConnection> ConnectAsync() =>
        new ConnectionFactory { Uri = new Uri(Uri), ClientProvidedName = "postbox-tests-raw" }.CreateConnectionAsync();

    /// <summary>Deletes what a test declared; missing entities are fine.</summary>
    public static async Task DeleteAsync(string exchange, params string[] queues)
    {
        await using var connection = await ConnectAsync();
        foreach (var queue in queues)
        {
            await using var channel = await connection.CreateChannelAsync();
            await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
        }

        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.ExchangeDeleteAsync(exchange, ifUnused: false);
        }
    }

    /// <summary>Runs <c>rabbitmqctl</c> and fails the test when it fails.</summary>
    public static async Task RabbitMQCtlAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("rabbitmqctl did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output} {await error}");
        }
    }
}
