using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Postbox.Storage;

namespace Postbox.PostgreSql;

/// <summary>
/// LISTENs on the schema's channel on one dedicated connection and wakes the relay on every notification.
/// Waiting costs no query; after a lost connection it reconnects with back-off and wakes the relay once,
/// since notifications sent meanwhile were lost.
/// </summary>
/// <remarks>
/// The listening connection is held for the life of the process, so it is opened outside the data source's pool
/// (same server, credentials and TLS settings, <c>Pooling=false</c>): taken from the pool it would leave the claims,
/// settles and handlers one connection fewer, and with <c>Maximum Pool Size=1</c> none at all.
/// </remarks>
internal sealed class PostgreSqlWakeupSource : IRelayWakeupSource
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlSchema _schema;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private volatile bool _listening;

    /// <summary>Creates the wake-up source.</summary>
    /// <param name="dataSource">Connection source.</param>
    /// <param name="options">Store options (the schema, hence the channel).</param>
    /// <param name="timeProvider">Clock for reconnect back-off.</param>
    /// <param name="logger">Logger; optional.</param>
    public PostgreSqlWakeupSource(NpgsqlDataSource dataSource, PostgreSqlOptions options, TimeProvider timeProvider, ILogger<PostgreSqlWakeupSource>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _schema = new PostgreSqlSchema(options.Schema);
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public bool IsListening => _listening;

    /// <inheritdoc />
    public async Task ListenAsync(Action wake, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(wake);
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = CreateUnpooledConnection(_dataSource);
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                connection.Notification += (_, _) => wake();
                await using (var listen = new NpgsqlCommand($"LISTEN \"{_schema.Channel}\"", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                _listening = true;
                if (failures > 0)
                {
                    Log.ListenResumed(_logger, _schema.Channel);
                    wake();
                }

                failures = 0;
                try
                {
                    while (true)
                    {
                        await connection.WaitAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    // From here on a commit may go unnoticed: the relay polls at its poll interval until LISTEN is back.
                    // Woken, so that a relay in the middle of an idle wait (up to IdlePollInterval) switches now.
                    _listening = false;
                    if (!cancellationToken.IsCancellationRequested)
                    {
                        wake();
                    }

                    await UnlistenAsync(connection).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException or InvalidOperationException)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(250 * Math.Pow(2, failures++), 10_000));
                // The database away (restart, network) is expected and retried: one line with the reason, no stack trace.
                var expected = ex is NpgsqlException { IsTransient: true } or TimeoutException or IOException;
                Log.ListenFailed(_logger, expected ? null : ex, _schema.Channel, delay, ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message);
                await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A connection to the data source's server that does not come from (nor go back to) its pool.</summary>
    internal static NpgsqlConnection CreateUnpooledConnection(NpgsqlDataSource dataSource)
    {
        // CloneWith keeps the data source's password (or password provider) and certificate callbacks, which the
        // connection string it shows leaves out.
        using var template = dataSource.CreateConnection();
        var unpooled = new NpgsqlConnectionStringBuilder(template.ConnectionString) { Pooling = false };
        return template.CloneWith(unpooled.ConnectionString);
    }

    // The connection is unpooled and closing it ends the session, so this is only a courtesy to the server; a failure
    // (a broken connection) changes nothing, hence swallowed.
    private async Task UnlistenAsync(NpgsqlConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            await using var unlisten = new NpgsqlCommand("UNLISTEN *", connection);
            unlisten.CommandTimeout = 5;
            await unlisten.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException or InvalidOperationException)
        {
            Log.UnlistenFailed(_logger, ex, _schema.Channel);
        }
    }
}
