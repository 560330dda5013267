using System.Net.Sockets;
using MySqlConnector;
using Npgsql;
using RabbitMQ.Client.Exceptions;

namespace Postbox.Bench;

/// <summary>
/// A server the run needs cannot be used (down, wrong address, wrong credentials, a malformed connection string): an
/// expected failure, reported as one line naming the server and the option, without a stack trace.
/// </summary>
internal sealed class ServerUnavailableException(string server, Exception inner)
    : Exception($"Cannot use {server}: {Describe(inner)}", inner)
{
    /// <summary>Failures of the servers or of what the user typed, as opposed to bugs in the harness.</summary>
    public static bool IsExpected(Exception ex) => ex switch
    {
        ServerUnavailableException or NpgsqlException or MySqlException or BrokerUnreachableException
            or AuthenticationFailureException or SocketException or TimeoutException => true,
        // The broker closed the connection or channel on us: a vhost that does not exist, missing permissions.
        OperationInterruptedException => true,
        _ => false,
    };

    /// <summary>The messages of <paramref name="ex"/> and its inner exceptions on one line (RabbitMQ's outer one alone says only "None of the specified endpoints were reachable").</summary>
    public static string Describe(Exception ex)
    {
        var messages = new List<string>();
        for (var e = ex; e is not null && messages.Count < 4; e = e.InnerException)
        {
            var message = e.Message.ReplaceLineEndings(" ").Trim();
            if (message.Length > 0 && !messages.Exists(m => m.Contains(message, StringComparison.Ordinal)))
            {
                messages.Add(message);
            }
        }

        return string.Join(": ", messages);
    }
}
