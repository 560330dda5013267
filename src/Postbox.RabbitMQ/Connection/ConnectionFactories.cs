using RabbitMQ.Client;

namespace Postbox.RabbitMQ.Connection;

/// <summary>
/// The one place the transport and the consumer configure RabbitMQ.Client: automatic connection and topology
/// recovery, and every connect/handshake/continuation wait bounded by the same timeout.
/// </summary>
internal static class ConnectionFactories
{
    public static ConnectionFactory Create(string connectionString, string clientProvidedName, TimeSpan reconnectDelay, TimeSpan connectionTimeout) =>
        new()
        {
            Uri = new Uri(connectionString),
            ClientProvidedName = clientProvidedName,
            AutomaticRecoveryEnabled = true,
            // Recovery re-declares exchanges, queues and bindings and re-registers consumers (with their prefetch).
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = reconnectDelay,
            RequestedConnectionTimeout = connectionTimeout,
            HandshakeContinuationTimeout = connectionTimeout,
            ContinuationTimeout = connectionTimeout,
        };
}
