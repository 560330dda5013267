namespace Postbox.Health;

/// <summary>Runs one bounded probe of a health check and tells a timeout apart from the caller's cancellation.</summary>
internal static class HealthCheckTimeout
{
    /// <summary>
    /// Runs <paramref name="probe"/> with a token that fires after <paramref name="timeout"/>; returns
    /// <see langword="null"/> when it succeeded, else what went wrong, in one line, and the exception only when it was
    /// unexpected: the health-check service logs a result's exception with its stack trace, and a store or broker that
    /// does not answer is what the check exists to report, in one line.
    /// </summary>
    public static async Task<(string Reason, Exception? Exception)?> RunAsync(
        Func<CancellationToken, Task> probe, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
        try
        {
            await probe(linked.Token).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // An expected failure: the check reports it, nothing is logged here.
            var expected = timer.IsCancellationRequested || ex is System.Data.Common.DbException or IOException or System.Net.Sockets.SocketException
                or TimeoutException or OperationCanceledException or Transport.TransportUnavailableException;
            return (timer.IsCancellationRequested ? $"no answer within {timeout}" : ex.Message, expected ? null : ex);
        }
    }
}
